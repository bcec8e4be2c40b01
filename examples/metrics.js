'use strict';
// An echo server that serves its counters (server.stats()) on /metrics in the
// Prometheus text format, from the same port. Run: node examples/metrics.js [PORT]
// then scrape http://localhost:PORT/metrics.
const lws = require('lws');

/** An echo server on `port` (0: any free port) with the metrics endpoint; 'listening' tells when it is up. */
function start(port = 0) {
  const server = new lws.Server({ port, host: '127.0.0.1' });
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  server.on('http', (request) => {
    if (request.url !== '/metrics') return request.respond(404, { 'content-type': 'text/plain' }, 'not found\n');
    const stats = server.stats();
    const counters = [
      ['lws_connections', 'gauge', 'Open WebSocket connections.', stats.connections],
      ['lws_connections_accepted_total', 'counter', 'TCP connections accepted.', stats.accepted],
      ['lws_connections_opened_total', 'counter', 'WebSocket connections opened.', stats.opened],
      ['lws_handshake_timeouts_total', 'counter', 'Clients dropped for not completing their request in time.', stats.handshakeTimeouts],
      ['lws_messages_received_total', 'counter', 'Messages received.', stats.messagesIn],
      ['lws_bytes_received_total', 'counter', 'Message bytes received.', stats.bytesIn],
      ['lws_messages_sent_total', 'counter', 'Messages sent.', stats.messagesOut],
      ['lws_bytes_sent_total', 'counter', 'Message bytes sent.', stats.bytesOut],
      ['lws_messages_dropped_total', 'counter', 'Messages dropped over maxBackpressure.', stats.dropped],
      ['lws_buffered_bytes', 'gauge', 'Bytes waiting for slow clients.', stats.bufferedBytes],
    ];
    const labelled = [
      ['lws_connections_refused_total', 'status', 'HTTP requests and upgrades refused, by status.', stats.refused],
      ['lws_connections_closed_total', 'code', 'WebSocket connections closed, by close code.', stats.closeCodes],
      ['lws_protocol_errors_total', 'error', 'Connections closed for a protocol error, by error.', stats.protocolErrors],
    ];
    const lines = ['# lws: server.stats()'];
    for (const [name, type, help, value] of counters) lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
    for (const [name, label, help, counts] of labelled) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const [key, value] of Object.entries(counts)) lines.push(`${name}{${label}="${key}"} ${value}`);
    }
    request.respond(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }, `${lines.join('\n')}\n`);
  });
  return server;
}

if (require.main === module) {
  const server = start(Number(process.argv[2] || 9100));
  server.on('listening', () => {
    console.log(`echo on ws://localhost:${server.port}/, metrics on http://localhost:${server.port}/metrics`);
  });
}

module.exports = { start };

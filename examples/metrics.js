'use strict';
// An echo server that serves its counters (server.stats()) on /metrics in the
// Prometheus text format, from the same port. Run: node examples/metrics.js [PORT]
// then scrape http://localhost:PORT/metrics.
const lws = require('..');

/** Prometheus text exposition (format 0.0.4) of server.stats(). */
function prometheus(stats) {
  const lines = [];
  const metric = (name, type, help, samples) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const byLabel = (label, counts) => Object.entries(counts).map(([k, v]) => [`{${label}="${k}"}`, v]);
  metric('lws_connections', 'gauge', 'Open WebSocket connections.', [['', stats.connections]]);
  metric('lws_connections_accepted_total', 'counter', 'TCP connections accepted.', [['', stats.accepted]]);
  metric('lws_connections_opened_total', 'counter', 'WebSocket connections opened.', [['', stats.opened]]);
  metric('lws_connections_refused_total', 'counter', 'HTTP requests and upgrades refused, by status.', byLabel('status', stats.refused));
  metric('lws_connections_closed_total', 'counter', 'WebSocket connections closed, by close code.', byLabel('code', stats.closeCodes));
  metric('lws_protocol_errors_total', 'counter', 'Connections closed for a protocol error, by error.', byLabel('error', stats.protocolErrors));
  metric('lws_handshake_timeouts_total', 'counter', 'Clients dropped for not completing their request in time.', [['', stats.handshakeTimeouts]]);
  metric('lws_messages_received_total', 'counter', 'Messages received.', [['', stats.messagesIn]]);
  metric('lws_bytes_received_total', 'counter', 'Message bytes received.', [['', stats.bytesIn]]);
  metric('lws_messages_sent_total', 'counter', 'Messages sent.', [['', stats.messagesOut]]);
  metric('lws_bytes_sent_total', 'counter', 'Message bytes sent.', [['', stats.bytesOut]]);
  metric('lws_messages_dropped_total', 'counter', 'Messages dropped over maxBackpressure.', [['', stats.dropped]]);
  metric('lws_buffered_bytes', 'gauge', 'Bytes waiting for slow clients.', [['', stats.bufferedBytes]]);
  return `${lines.join('\n')}\n`;
}

/** Starts the server on `port`; resolves once it listens. */
function start(port) {
  const server = new lws.Server({ port, host: '127.0.0.1' });
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  server.on('http', (request) => {
    if (request.url === '/metrics') {
      request.respond(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }, prometheus(server.stats()));
    } else {
      request.respond(404, { 'content-type': 'text/plain' }, 'not found\n');
    }
  });
  return new Promise((resolve) => server.once('listening', () => resolve(server)));
}

if (require.main === module) {
  start(Number(process.argv[2] || 9100)).then((server) => {
    console.log(`echo on ws://localhost:${server.port}/, metrics on http://localhost:${server.port}/metrics`);
  });
}

module.exports = { start, prometheus };

'use strict';
// A Primus transformer whose server side is lws (WebSocketServer in noServer mode,
// fed by the HTTP server's 'upgrade' events) and whose client side is Primus's own
// "websockets" client, which speaks plain RFC 6455 (browsers' WebSocket, or `ws` in Node).
//
//   const Primus = require('primus');
//   const primus = new Primus(httpServer, { transformer: require('lws/primus') });
//
// `primus` is the application's dependency, not lws's: it is resolved from the app.

const http = require('http');
const WebSocketServer = require('../ws/websocket-server');

function primusModule(subpath) {
  try {
    return require(`primus/${subpath}`);
  } catch (err) {
    err.message = `lws/primus needs the 'primus' package (npm install primus): ${err.message}`;
    throw err;
  }
}

const Transformer = primusModule('transformer');
const websocketsClient = primusModule('transformers/websockets/client');

/** Runs with `this` = the transformer instance (Primus calls it once, at setup). */
function server() {
  const options = this.primus.options;
  // Primus names any transformer object 'custom' in /primus/spec; clients that read the
  // spec to build a Socket (Primus.createSocket({ transformer })) need the name of the
  // client this one serves, which is Primus's own 'websockets'.
  this.primus.spec.transformer = 'websockets';
  const wss = new WebSocketServer({
    perMessageDeflate: !!options.compression,
    maxPayload: options.maxLength,
    ...options.transport,
    noServer: true,
    clientTracking: false,
  });
  const logError = (err) => {
    if (err) this.logger.error(err);
  };

  this.on('upgrade', (req, tcpSocket, head) => {
    wss.handleUpgrade(req, tcpSocket, head, (ws) => {
      const query = new URL(req.url, 'http://localhost').search.slice(1);
      const spark = new this.Spark(req.headers, req, query, null, req, ws);

      spark.on('outgoing::data', (data) => {
        if (ws.readyState === ws.OPEN) ws.send(data, logError);
      });
      spark.on('outgoing::end', () => ws.close());

      ws.on('message', spark.emits('incoming::data', (next, data, isBinary) => {
        next(undefined, isBinary ? data : data.toString());
      }));
      ws.on('ping', spark.emits('incoming::pong', (next) => next(undefined, null)));
      ws.on('error', spark.emits('incoming::error'));
      ws.on('close', spark.emits('incoming::end', (next) => {
        ws.removeAllListeners();
        next();
      }));
    });
  });

  // Plain HTTP requests on the Primus path: this transformer only does WebSockets.
  this.on('request', (req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end(http.STATUS_CODES[426]);
  });

  this.once('close', () => wss.close());
}

module.exports = Transformer.extend({ server, client: websocketsClient });

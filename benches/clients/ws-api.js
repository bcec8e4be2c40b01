'use strict';
// The adapter for clients with ws's API (ws itself and lws.WebSocket), for harness.js: one
// WebSocket per connection with its default options (as a ws user writes it), messages as
// Buffers (binaryType 'nodebuffer', the default).
module.exports = (WebSocket, name) => ({
  name,
  open(url, conn) {
    const ws = new WebSocket(url);
    ws.on('open', () => conn.onOpen());
    ws.on('message', (data, isBinary) => conn.onMessage(data, isBinary));
    ws.on('close', (code) => conn.onClose(code));
    ws.on('error', (err) => conn.onError(err));
    return ws;
  },
  send(ws, data) { ws.send(data); },
  close(ws) { ws.close(1000); },
  terminate(ws) { ws.terminate(); },
});

'use strict';
// The 'connection' handler shared by the ws-API servers (ws, ws + bufferutil, lws's
// WebSocketServer): the same code on either library, as a drop-in should allow.
// Echoes every message; with `broadcast`, a text message starting with "broadcast " goes
// to every open client instead (the loop over wss.clients from ws's README), sender included.

function wsStyleHandler(wss, WebSocket, broadcast) {
  return (ws) => {
    ws.on('error', () => {});
    if (!broadcast) {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      return;
    }
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data[0] === 0x62 && data.latin1Slice(0, 10) === 'broadcast ') {
        for (const client of wss.clients) {
          if (client.readyState === WebSocket.OPEN) client.send(data, { binary: false });
        }
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
  };
}

module.exports = { wsStyleHandler };

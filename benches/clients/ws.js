'use strict';
// The `ws` client (ws 8). Usage: node benches/clients/ws.js recv|connect|idle --url URL [options]
// (see harness.js). run.js runs it with WS_NO_BUFFER_UTIL=1 WS_NO_UTF_8_VALIDATE=1 (plain ws, no
// native add-ons); ws-bufferutil.js is the other row.
const withBufferutil = process.env.WS_NO_BUFFER_UTIL !== '1';
if (withBufferutil) {
  // Fail loudly rather than silently measuring the JS fallback.
  const bu = require('bufferutil');
  if (!/\[native code\]/.test(String(bu.mask))) throw new Error('bufferutil is not native');
}
const { WebSocket } = require('ws');

require('./harness').main(require('./ws-api')(WebSocket, withBufferutil ? 'ws+bufferutil' : 'ws'));

'use strict';
// lws.WebSocket, lws's drop-in for ws's client. Usage: node benches/clients/lws-websocket.js recv|connect|idle --url URL [options]
// (see harness.js). LWS_ROOT: another lws checkout to load instead (run.js --baseline DIR);
// LWS_WEBSOCKET_ROOT: the same for this row alone (e.g. a branch where lws.WebSocket is being built).
const path = require('path');
const { WebSocket } = require(process.env.LWS_WEBSOCKET_ROOT || process.env.LWS_ROOT || path.join(__dirname, '..', '..'));

require('./harness').main(require('./ws-api')(WebSocket, 'lws.WebSocket'));

'use strict';
// The `ws` client with the native bufferutil add-on. Usage: node benches/clients/ws-bufferutil.js recv|connect|idle --url URL [options]
if (process.env.WS_NO_BUFFER_UTIL === '1') throw new Error('unset WS_NO_BUFFER_UTIL for the ws + bufferutil row');
require('./ws.js');

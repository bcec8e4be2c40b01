'use strict';
// Echo server on `ws` with the native bufferutil add-on. Usage: node benches/servers/ws-bufferutil.js PORT
if (process.env.WS_NO_BUFFER_UTIL === '1') throw new Error('unset WS_NO_BUFFER_UTIL for the ws + bufferutil row');
require('./ws.js');

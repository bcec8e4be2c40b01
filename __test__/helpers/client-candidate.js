'use strict';
// The WebSocket client under test. Every client suite (client-*.test.js) takes its
// client from here, so that the whole suite can be run against ws itself:
//
//   LWS_CLIENT_CANDIDATE=ws node --test __test__/client-*.test.js   # must pass 100%
//   node --test __test__/client-*.test.js                           # lws.WebSocket
//
// Exports { WebSocket, createWebSocketStream, modulePath, esmPath, name, isReference }:
// `modulePath` is what `require()` takes to get the candidate module, `esmPath` the
// file an `import` of it resolves to (client-readme rewrites `from 'ws'` to it).

const path = require('node:path');

const NAME = process.env.LWS_CLIENT_CANDIDATE === 'ws' ? 'ws' : 'lws';
const modulePath = NAME === 'ws' ? require.resolve('ws') : path.join(__dirname, '..', '..');
const esmPath = NAME === 'ws' ? path.join(path.dirname(require.resolve('ws')), 'wrapper.mjs') : path.join(__dirname, '..', '..', 'index.mjs');
const mod = require(modulePath);

module.exports = {
  WebSocket: mod.WebSocket,
  createWebSocketStream: mod.createWebSocketStream,
  modulePath,
  esmPath,
  name: NAME === 'ws' ? 'ws' : 'lws.WebSocket',
  isReference: NAME === 'ws',
};

// The package loads as an ES module too, with the same classes as require('lws').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import lwsDefault, { Server, Socket, HttpRequest, WebSocket as LwsWebSocket, WebSocketServer, Client } from '../index.mjs';

const require = createRequire(import.meta.url);

test('ESM exports match the CommonJS ones and work', async () => {
  const cjs = require('../index.js');
  assert.equal(Server, cjs.Server);
  assert.equal(Socket, cjs.Socket);
  assert.equal(HttpRequest, cjs.HttpRequest);
  assert.equal(Client, cjs.Client);
  // The default export is WebSocket, as ws's is (`import WebSocket from 'lws'`).
  assert.equal(lwsDefault, cjs.WebSocket);
  assert.equal(LwsWebSocket, cjs.WebSocket);
  assert.equal(lwsDefault.WebSocketServer, WebSocketServer);
  assert.equal(lwsDefault.OPEN, 1);

  const server = new Server({ port: 0, host: '127.0.0.1' });
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  await new Promise((resolve) => server.once('listening', resolve));
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  const reply = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo within 5 s')), 5000);
    ws.on('open', () => ws.send('from esm'));
    ws.on('message', (data) => {
      clearTimeout(timer);
      resolve(data.toString());
    });
    ws.on('error', reject);
  });
  assert.equal(reply, 'from esm');
  ws.terminate();
  await new Promise((resolve) => server.close(resolve));
});

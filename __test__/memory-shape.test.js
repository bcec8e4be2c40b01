'use strict';
// What an idle connection keeps, counted in fields: every field of a Socket or a
// WebSocket is 8 bytes per connection (the benchmark's memory rows hold 10,000),
// and what each one keeps is copied through V8's young generation, which grows
// with it. A field added to these objects should be a decision, not a drift.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const WS = require('ws');
const { EventEmitter } = require('events');
const { Server, WebSocketServer, WebSocket } = require('..');
const { Socket } = require('../lib/core');
const { within, waitUntil } = require('./helpers/wait');

const HOST = '127.0.0.1';

/** Own properties, string and symbol keys. */
const fieldCount = (object) => Reflect.ownKeys(object).length;

test('a core Socket has 10 fields (15 before pause state and topics moved to extras made on first use, 12 before the backlog did and fd and closed became one)', async () => {
  assert.equal(fieldCount(new Socket(1)), 10);
  const server = new Server({ port: 0, host: HOST, threads: 0 });
  await within(5000, 'listening', (resolve) => server.on('listening', resolve));
  const opened = within(5000, 'connection', (resolve) => server.once('connection', resolve));
  const client = new WS(`ws://${HOST}:${server.address().port}/`);
  client.on('error', () => {});
  try {
    const socket = await opened;
    assert.equal(fieldCount(socket), 10, `an open socket: ${Reflect.ownKeys(socket).map(String)}`);
    server.pause(socket);
    server.resume(socket);
    assert.equal(fieldCount(socket), 10, 'pause() and resume() add no field');
  } finally {
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a server-side WebSocket keeps 14 fields, its yes/no state in one (_flags), what an idle socket never sets on the prototype', async () => {
  const wss = new WebSocketServer({ port: 0, host: HOST });
  await within(5000, 'listening', (resolve) => wss.on('listening', resolve));
  const connected = within(5000, 'connection', (resolve) => wss.once('connection', resolve));
  const client = new WS(`ws://${HOST}:${wss.address().port}/`);
  client.on('error', () => {});
  try {
    const ws = await connected;
    await waitUntil(() => ws._socket instanceof Socket, 5000, 'the engine socket');
    ws.pause();
    ws.resume();
    const fields = Reflect.ownKeys(ws).map(String);
    // EventEmitter's five, and ws's state: 14 (24 when each boolean was a field of its own,
    // 19 while the rarely set ones below were fields of every socket).
    assert.ok(fields.length <= 14, `${fields.length} fields: ${fields}`);
    for (const name of ['_paused', '_deliverScheduled', '_settleScheduled', '_errorEmitted', '_closeFrameReceived']) {
      assert.ok(!fields.includes(name), `${name} is a bit of _flags, not a field`);
    }
    for (const name of ['_url', '_bufferedAfterClose', '_held', '_blobQueue', '_closeTimer']) {
      assert.ok(!fields.includes(name), `${name} is on the prototype until set`);
    }
    assert.equal(ws.url, undefined);
    assert.equal(ws.bufferedAmount, 0);
    // Set once used: a closing socket has its timer.
    ws.close();
    assert.ok(Object.hasOwn(ws, '_closeTimer'));
  } finally {
    client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
});

test('a client WebSocket keeps 17 fields once open, none of them its handshake; a handshake makes no ClientRequest nobody asked for', async () => {
  const server = new WS.WebSocketServer({ port: 0, host: HOST });
  await within(5000, 'listening', (resolve) => server.on('listening', resolve));
  const ws = new WebSocket(`ws://${HOST}:${server.address().port}/`);
  try {
    // The request stand-in of 'redirect' and 'unexpected-response' (an EventEmitter) is made
    // only for those: connecting keeps the handshake state alone.
    assert.ok(!(ws._req instanceof EventEmitter), 'no ClientRequest while connecting');
    await within(5000, 'open', (resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const fields = Reflect.ownKeys(ws).map(String);
    // 22 when every client carried its redirect count and the fields an idle socket never sets.
    assert.ok(fields.length <= 17, `${fields.length} fields: ${fields}`);
    assert.ok(!fields.includes('_redirects'), '_redirects is own only after a redirect');
    assert.equal(ws._redirects, 0);
    assert.equal(ws._req, null, 'the request is dropped once open');
    assert.equal(ws._handshake, null, 'the handshake is dropped once open');
  } finally {
    ws.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

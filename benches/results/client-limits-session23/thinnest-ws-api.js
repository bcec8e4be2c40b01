'use strict';
// The thinnest clients with ws's API that lws's engine can carry, for the floor under
// lws.WebSocket's memory per idle connection. Each holds its lws.Client socket and, per
// connection, only:
// - `slots`: one object with a slot for each of the four listeners the application adds. Not an
//   EventEmitter, not a usable WebSocket: the least any object with `ws.on(...)` can keep.
// - `emitter` (the default): a real EventEmitter (Node's own on/emit/removeListener work on it)
//   whose listener table is a small fast object, as lws.WebSocket's is (`EventEmitter` itself
//   keeps `_events` in a dictionary, far larger), plus `readyState`: ws's WebSocket API at its
//   smallest (no protocol, extensions, binaryType, close handshake, send callbacks or options).
// - `none`: no connection at all: an object with the four slots whose send() echoes at once
//   (a timer, as a reply would come). What the harness and its application alone cost.
// Measured with the same harness and the same application (ws-api.js: a Conn and four listener
// closures a connection) as the Clients table's idle row. Usage (from the repository root):
//   node benches/results/client-limits-session23/thinnest-ws-api.js idle --url ws://127.0.0.1:PORT/ --conns 10000 --warmup 1000 --concurrency 100
// THINNEST=slots or THINNEST=none for the other kinds.
const path = require('path');
const EventEmitter = require('events');
const lws = require(path.join(__dirname, '..', '..', '..'));

const client = new lws.Client();
client.on('open', (socket) => {
  const ws = client.getUserData(socket);
  ws.readyState = 1;
  ws.emit('open');
});
client.on('message', (socket, message, binary) => client.getUserData(socket).emit('message', Buffer.from(message), binary));
client.on('close', (socket, code) => {
  const ws = client.getUserData(socket);
  ws.readyState = 3;
  ws.emit('close', code);
});
client.on('error', (err, socket) => {
  const ws = socket && client.getUserData(socket);
  if (ws) ws.emit('error', err);
  else throw err;
});

/** What every kind does with its socket. */
const socketMethods = {
  send(data) { client.send(this._socket, data); },
  close(code) { client.close(this._socket, code); },
  terminate() { client.terminate(this._socket); },
};

class SlotsWebSocket {
  constructor(url) {
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    if (url === null) return;
    this._socket = client.connect(url);
    client.setUserData(this._socket, this);
  }
  on(event, listener) { this[`on${event}`] = listener; }
  emit(event, ...args) { this[`on${event}`](...args); }
}
Object.assign(SlotsWebSocket.prototype, socketMethods);

/** No connection: the application alone. */
class NoConnectionWebSocket extends SlotsWebSocket {
  constructor() {
    super(null);
    setImmediate(() => this.emit('open'));
  }
  send(data) { setImmediate(() => this.emit('message', Buffer.from(data), false)); }
  close(code) { setImmediate(() => this.emit('close', code)); }
  terminate() { this.close(1006); }
}

function ListenerTable() {}
ListenerTable.prototype = Object.create(null);

class EmitterWebSocket extends EventEmitter {
  constructor(url) {
    super();
    this._events = new ListenerTable();
    this.readyState = 0;
    this._socket = client.connect(url);
    client.setUserData(this._socket, this);
  }
}
Object.assign(EmitterWebSocket.prototype, socketMethods);

const kind = process.env.THINNEST || 'emitter';
const WebSocket = { none: NoConnectionWebSocket, slots: SlotsWebSocket, emitter: EmitterWebSocket }[kind];
if (!WebSocket) throw new Error('THINNEST must be none, slots or emitter');
require('../../clients/harness').main(require('../../clients/ws-api')(WebSocket, `thinnest ws-API client (${kind}) on lws.Client`));

'use strict';
// What the client benchmark's application keeps per idle connection by itself (harness.js idle
// and ws-api.js open, without any WebSocket library): its Conn object and the four listener
// closures it hands to a WebSocket, held in an array standing in for the listener table.
// Usage: node --expose-gc benches/results/client-limits-session22/app-kept.js
const CONNECTIONS = 10000;
class Conn {
  constructor(keep) { this.keep = keep; this.open = false; this.echoed = false; this.closed = false; this.handle = null; }
}
function listenersOf(conn) {
  return [() => conn.onOpen(), (data, isBinary) => conn.onMessage(data, isBinary), (code) => conn.onClose(code), (err) => conn.onError(err)];
}
global.gc();
const before = process.memoryUsage().heapUsed;
const conns = [];
for (let i = 0; i < CONNECTIONS; i++) {
  const conn = new Conn(true);
  conn.handle = listenersOf(conn);
  conns.push(conn);
}
global.gc();
const after = process.memoryUsage().heapUsed;
console.log(`kept per connection: ${((after - before) / CONNECTIONS).toFixed(0)} B (${conns.length} connections)`);

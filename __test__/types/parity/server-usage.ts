// Server-side code written against ws 8 and @types/ws. types.test.js compiles this
// file twice: with 'ws-under-test' mapped to @types/ws and to lws's index.d.ts.
// Whatever @types/ws accepts here, lws's types must accept too.
import * as http from 'http';
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';
// Named imports, as lws is a drop-in for them (`require('lws')` itself is lws's module, not ws's WebSocket).
import { WebSocketServer, WebSocket, createWebSocketStream } from 'ws-under-test';
import type { RawData, Data, VerifyClientCallbackSync, VerifyClientCallbackAsync, MessageEvent, CloseEvent, ErrorEvent } from 'ws-under-test';

const wss = new WebSocketServer({ port: 0, perMessageDeflate: { threshold: 1024, zlibDeflateOptions: { level: 3 } } });
const fromStatic: WebSocketServer = new WebSocket.Server({ noServer: true, clientTracking: false, maxPayload: 1 << 20 });
fromStatic.close();
const verifySync: VerifyClientCallbackSync = (info) => info.secure;
const verifyAsync: VerifyClientCallbackAsync = (info, done) => done(info.req.headers.host !== undefined);
new WebSocketServer({ noServer: true, verifyClient: verifySync }).close();
new WebSocketServer({ noServer: true, verifyClient: verifyAsync }).close();

// The README's echo, and its usual variants.
wss.on('connection', (ws, request) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const text: string = data.toString();
    if (Buffer.isBuffer(data)) data.readUInt8(0);
    else if (Array.isArray(data)) Buffer.concat(data);
    else new Uint8Array(data);
    ws.send(text);
    ws.send(JSON.stringify({ text, isBinary }), (err) => { if (err) console.error(err.message); });
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
  ws.once('close', (code: number, reason: Buffer) => console.log(code, reason.toString()));
  ws.on('close', function (this: WebSocket, code, reason) { console.log(this.readyState, code, reason.toString('utf8')); });
  ws.on('error', (err) => console.error(err.message));
  ws.on('pong', (payload) => payload.length);
  ws.on('ping', (payload) => ws.pong(payload));
  ws.ping();
  ws.ping('x', false, (err) => err && console.error(err));
  ws.send(new Uint8Array(4));
  ws.send(new ArrayBuffer(4), { binary: true, compress: false, fin: true });
  ws.send(Buffer.from('abc'), { binary: false });
  ws.send(new DataView(new ArrayBuffer(2)));
  ws.send([1, 2, 3]);
  ws.send(42);
  ws.binaryType = 'arraybuffer';
  ws.binaryType = 'fragments';
  ws.binaryType = 'nodebuffer';
  const state: number = ws.readyState;
  const buffered: number = ws.bufferedAmount;
  const protocol: string = ws.protocol;
  const extensions: string = ws.extensions;
  const url: string = ws.url;
  const paused: boolean = ws.isPaused;
  console.log(state, buffered, protocol, extensions, url, paused, request.headers['user-agent'], request.socket.remoteAddress);
  ws.pause();
  ws.resume();
  ws.onmessage = (event: MessageEvent) => { const payload: Data = event.data; console.log(payload, event.type); };
  ws.onclose = (event: CloseEvent) => console.log(event.code, event.reason, event.wasClean);
  ws.onerror = (event: ErrorEvent) => console.log(event.message, event.error);
  ws.onopen = (event) => console.log(event.type, event.target.readyState);
  ws.addEventListener('message', (event) => console.log(event.data));
  ws.addEventListener('close', { handleEvent: (event) => console.log(event.code) }, { once: true });
  const listener = (data: RawData, isBinary: boolean) => console.log(data, isBinary);
  ws.on('message', listener);
  ws.off('message', listener);
  ws.addListener('message', listener);
  ws.removeListener('message', listener);
  const stream: Duplex = createWebSocketStream(ws, { encoding: 'utf8' });
  stream.on('data', (chunk) => console.log(chunk));
  ws.close();
  ws.close(1000);
  ws.close(4000, 'bye');
  ws.close(1000, Buffer.from('bye'));
  ws.terminate();
});
wss.on('listening', () => {
  const address = wss.address();
  if (address !== null && typeof address === 'object') console.log(address.port, address.family);
});
wss.on('headers', (headers, request) => headers.push(`X-Url: ${request.url}`));
wss.on('error', (err) => console.error(err));
wss.on('wsClientError', (err, socket, request) => { console.log(err.message, request.url); socket.destroy(); });
wss.once('close', () => console.log('closed'));
wss.close((err) => err && console.error(err));

// A heartbeat, as ws's README writes it (with a subclass to carry the flag).
class AliveWebSocket extends WebSocket {
  isAlive = true;
}
const heartbeat = new WebSocketServer({ noServer: true, WebSocket: AliveWebSocket });
heartbeat.on('connection', (ws) => {
  ws.isAlive = true;
  ws.on('pong', () => { ws.isAlive = true; });
});
setInterval(() => {
  heartbeat.clients.forEach((ws) => {
    if (!ws.isAlive) return ws.terminate();
    ws.isAlive = false;
    ws.ping();
  });
}, 30000).unref();

// Sharing an http server, and noServer with handleUpgrade.
const server = http.createServer();
const attached = new WebSocketServer({
  server,
  path: '/ws',
  verifyClient: (info, done) => done(info.origin.startsWith('https://'), 401, 'Unauthorized', { 'X-Why': 'origin' }),
  handleProtocols: (protocols: Set<string>, request: IncomingMessage) => (protocols.has('chat') ? 'chat' : false),
});
attached.on('connection', (ws: WebSocket, request: IncomingMessage) => ws.send(`hello ${request.socket.remoteAddress}`));
const manual = new WebSocketServer({ noServer: true, verifyClient: (info: { origin: string; secure: boolean; req: IncomingMessage }) => info.secure || info.req.headers.host !== undefined });
server.on('upgrade', (request, socket, head) => {
  if (!manual.shouldHandle(request)) return socket.destroy();
  manual.handleUpgrade(request, socket, head, (ws, req) => manual.emit('connection', ws, req));
});
const typed: Set<WebSocket> = manual.clients;
console.log(typed.size, WebSocket.CONNECTING, WebSocket.CLOSING, WebSocket.CLOSED);

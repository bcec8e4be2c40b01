'use strict';
// lib/core: the engine's JavaScript side, which every API (lws.Server in
// lib/server.js, the ws layer in lib/ws/) is built on. A layer requires this
// file only, and uses only what is described here: the core's own fields
// (`_`-prefixed, or under symbols) are private to lib/core.
//
// Modules (one concern each):
//   engine.js          loads the native engine; one NativeServer + its command buffer
//   wire.js            record formats shared with the engine's wire.rs; CommandWriter
//   batch-decoder.js   an event batch -> listener calls (the 'message' hot path)
//   core-server.js     CoreServer: sockets, pending requests, commands, lifetime
//   socket.js          Socket, the connection handle, with the hooks for layers
//   requests.js        UpgradeRequest, HttpRequest (answered later or at once)
//   options.js         option validation, translated into the engine's settings
//   fd-adoption.js     Node socket -> engine by descriptor, and engine -> net.Socket
//   loopback-relay.js  streams with no descriptor (TLS) reach the engine over loopback TCP
//   client-handshake.js the client side of the handshake: URL, request head, ws's checks of the 101
//   streams.js         messages as streams: 'messageStream', sendStream(), createWebSocketStream()
//   loop-timers.js     the event loop's timers as lws loaded them (faked global timers do not stop lws)
//
// What a layer gets
//
// - CoreServer (an EventEmitter): `new CoreServer(options)` with lws.Server's
//   options (README), validated by options.js. Events, in the engine's order:
//   'upgrade' (socket, headers, request) - the listener's verdict answers unless
//   request.defer() was called; 'aborted' (socketOrRequest); 'connection'
//   (socket); 'message' (socket, data, binary); 'fragment'; 'ping' / 'pong'
//   (socket, payload); 'drain' (socket); 'dropped' (socket); 'closing' (socket,
//   code, reason) - the peer's close frame, whose reply waits for this callback
//   (without a listener the engine answers at once when JS has handled the
//   socket's earlier events; layers use the _peerClosing hook, which does not wait);
//   'close' (socket, code, reason, errorCode, errorDetail) - once per socket;
//   'http' (request); 'listening'; 'error'; for outgoing connections 'response'
//   (socket, response) and 'open' (socket, info), see reserveSocket(), dial(),
//   acceptResponse(), adoptClient() in core-server.js (lws.Client, lib/client.js).
//   Commands: send(socket, data, binary, fin, compress), sendPrepared,
//   prepareBuffer, ping, pong, pause, resume, close(socket, code, reason),
//   terminate(socket, dropQueued), setTcpOption(socket, option, on, secs),
//   writeRaw(socket, bytes) (unframed: the ws layer's handed-over socket),
//   getBufferedAmount(socket), respond(request,
//   ...); outgoing: reserveSocket(), dial(socket, target), releaseSocket(socket),
//   acceptResponse(socket, extensions, info), adoptClient(socket, nodeSocket, ...); the server: listen, address, stopListening, close([callback]),
//   handleUpgrade(nodeSocket, request, head) (false when the socket has no
//   descriptor: see loopback-relay). `options` is the normalized options
//   (`options.engine.perMessageDeflate.threshold`, ...).
//   stats(): counters for monitoring (README), JS's and the engine's.
//   `ownedMessages = true`: 'message' data are copies the listener may keep
//   (copied in slabs per batch, cheaper than a copy each), not lent.
//   `textAsStrings = true`: whole text messages reach 'message' as strings
//   (decoded from the batch, no Buffer made); the same text sent during that
//   dispatch goes as the bytes it came in, not encoded again (Buffers still
//   with skipUTF8Validation).
//   Streams (streams.js): 'messageStream' (socket, readable, binary) takes every
//   message once it has a listener; sendStream(socket, { binary }) and
//   createWebSocketStream(socket); for a layer routing messages itself,
//   messageReadable(socket, binary) + pushMessagePart(socket, readable, chunk)
//   (a full Readable pauses the socket until read) and attachSendStream(socket,
//   writer) for its MessageWritable subclass (other sends then throw until it ends).
//   commandEpoch(): counts flushes of the command buffer. What was sent while it
//   stays the same is still in JS (not handed to the engine); it changes when
//   the batch's or the tick's commands leave.
// - Socket hooks: `wrapper` (the one property a layer may set: the object it
//   keeps for the socket; the core never reads it), `backlog` (bytes the engine
//   reported queued and not yet written: backpressure, 0 after 'drain'),
//   `setPeer(peer)` (the real client's address of a relayed connection),
//   `remoteAddress` / `remotePort` / `remoteFamily`, `extensions` (the
//   negotiated Sec-WebSocket-Extensions), `fd`, `closed`, `userData`.
// - Requests: UpgradeRequest (accept, refuse, refuseWith, handOff, defer,
//   socket) and HttpRequest (respond); both carry method, url, headers,
//   rawHeaders, remote address, `answered`, `aborted`.
// - kNegotiatedByJs: set on a perMessageDeflate option object, the engine
//   follows the Sec-WebSocket-Extensions the 'upgrade' listener accepts with.
// - kFrameEvents: set (true) in a CoreServer's options, frames replace messages:
//   'frameHead' (socket, head, length, mask) and 'frameData' (socket, piece, end)
//   events; sendFrameHead(socket, head, length), sendFramePiece(socket, data) and
//   endWhenWritten(socket) send (frames.js). lws/walve is built on it.
// - kFragmentPerFrame: set (true) in a CoreServer's options, 'fragment' pieces
//   also end with each frame of a message sent in several frames (lws/nodejs-websocket).
// - descriptorOf(nodeSocket), loopbackPair(cb), pump(stream, outer).
// - Outgoing connections (a CoreServer that never listens is a client engine):
//   reserveSocket(), dial(socket, { address, port, localAddress, tls, head,
//   timeout }), releaseSocket(socket), acceptResponse(socket, extensions, info),
//   adoptClient(socket, nodeSocket, { head, extensions, info }); events
//   'response' (socket, { statusCode, statusMessage, rawHeaders, body }) and
//   'open' (socket, info); failures before open end with 'close' 1006 and an
//   errorCode of CLIENT_ERROR_CODES (details: core-server.js). `clientHandshake`
//   (client-handshake.js) builds the request and checks the answer as ws does;
//   TlsFailure names a LWS_ERR_TLS detail.
//
// Rules
//
// - Buffers given to listeners ('message' unless `ownedMessages`, 'fragment',
//   'ping', 'pong', 'closing' reasons) are lent from the event batch: valid only
//   during the callback (afterwards detached, length 0). Copy what you keep. Sending a lent
//   buffer from inside the callback forwards it without a copy.
// - Commands written during a batch leave when the batch ends; outside one, at
//   the end of the tick. Nothing is sent synchronously.
// - A socket stays a valid object forever: after 'close', commands return false.
// - One 'message' listener gets the fast path (called directly, not by emit).
// - A listener that throws does not lose the rest of the batch; the first
//   error is rethrown after it.

const { CoreServer } = require('./core-server');
const { Socket, idOf } = require('./socket');
const { UpgradeRequest, HttpRequest } = require('./requests');
const { kNegotiatedByJs, kFrameEvents, kFragmentPerFrame } = require('./options');
const { descriptorOf } = require('./fd-adoption');
const { loopbackPair, pump } = require('./loopback-relay');
const { CLIENT_ERROR_CODES, TlsFailure } = require('./wire');
const clientHandshake = require('./client-handshake');
const { MessageReadable, MessageWritable } = require('./streams');
const loopTimers = require('./loop-timers');

module.exports = {
  CoreServer, Socket, idOf, UpgradeRequest, HttpRequest, kNegotiatedByJs, kFrameEvents, kFragmentPerFrame, descriptorOf,
  loopbackPair, pump, CLIENT_ERROR_CODES, TlsFailure, clientHandshake, MessageReadable, MessageWritable, loopTimers,
};

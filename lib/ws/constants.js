'use strict';
// Values shared by the ws-compatible layer (the same numbers and names ws uses).

const READY_STATES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];

const BINARY_TYPES = ['nodebuffer', 'arraybuffer', 'fragments'];
if (typeof Blob !== 'undefined') BINARY_TYPES.push('blob');

module.exports = {
  READY_STATES,
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
  BINARY_TYPES,
  /** RFC 6455 section 1.3: appended to Sec-WebSocket-Key before hashing. */
  GUID: '258EAFA5-E914-47DA-95CA-C5AB0DC85B11',
  /** ws's defaults. */
  DEFAULT_MAX_PAYLOAD: 100 * 1024 * 1024,
  CLOSE_TIMEOUT: 30000,
  /** How much later than ws's close timer the engine's own one fires (ms). */
  ENGINE_CLOSE_MARGIN: 1000,
  /** Largest message the engine can hand over (record lengths are 32-bit). */
  ENGINE_MAX_MESSAGE: 2 ** 32 - 1,
  EMPTY_BUFFER: Buffer.alloc(0),
  /**
   * Emitted by a WebSocket (right before 'close') when the connection ended the way
   * that lets ws's socket finish writing: not by terminate() or the close timer.
   * createWebSocketStream's end() waits for it, as ws's waits for the socket's 'finish'.
   */
  kFinished: Symbol('lws.ws.finished'),
  /** Marks Node sockets already given to handleUpgrade(). */
  kUpgraded: Symbol('lws.ws.upgraded'),
  // A WebSocket's side facing WebSocketServer (websocket.js implements these):
  /** [kAttachPending](core, protocol, extensions, peer (a PendingSocket)): open before the engine has the socket. */
  kAttachPending: Symbol('lws.ws.attachPending'),
  /** [kAttachAccepted](core, socket): the engine's socket is accepted (its 101 answered), not yet reported open. */
  kAttachAccepted: Symbol('lws.ws.attachAccepted'),
  /** [kAttach](core, socket, protocol): the engine's socket is open. */
  kAttach: Symbol('lws.ws.attach'),
  /** [kAttachReading](core, socket, protocol): as kAttach, what the batch brings next comes a tick later. */
  kAttachReading: Symbol('lws.ws.attachReading'),
  /** [kOnMessage](data, isBinary): an owned buffer (the core's ownedMessages); [kOnPing](data), [kOnPong](data): lent ones. */
  kOnMessage: Symbol('lws.ws.onMessage'),
  kOnPing: Symbol('lws.ws.onPing'),
  kOnPong: Symbol('lws.ws.onPong'),
  /** [kOnDrain](): what the engine held for the socket is written. */
  kOnDrain: Symbol('lws.ws.onDrain'),
  /** [kOnPeerClosing](code, reason): the peer's close frame arrived. */
  kOnPeerClosing: Symbol('lws.ws.onPeerClosing'),
  /** [kOnProtocolError](errorCode, errorDetail): the engine closed the connection for a bad frame it read. */
  kOnProtocolError: Symbol('lws.ws.onProtocolError'),
  /** [kOnClose](code, reason, errorCode, errorDetail): the connection is over. */
  kOnClose: Symbol('lws.ws.onClose'),
  /** [kDropConnection](): the Node socket handleUpgrade() was given was destroyed after the hand-over. */
  kDropConnection: Symbol('lws.ws.dropConnection'),
  /** [kWriteRaw](bytes): bytes written to that socket after the hand-over, to go out unframed. */
  kWriteRaw: Symbol('lws.ws.writeRaw'),
  /** [kEndConnection](): that socket was ended: TCP ends once what is queued is written, no close frame. */
  kEndConnection: Symbol('lws.ws.endConnection'),
  /** [kSocketClose](emitClose): emits that socket's held 'close', the WebSocket's own 'close' among its listeners. */
  kSocketClose: Symbol('lws.ws.socketClose'),
  /** The http server whose connection count the WebSocket holds (handed-over.js): null when none. */
  kCountedBy: Symbol('lws.ws.countedBy'),
  /** True once a WebSocket closed with the close handshake done (CloseEvent's wasClean). */
  kClosedCleanly: Symbol('lws.ws.closedCleanly'),
  /** True when a WebSocket was ended by terminate() or the close timer (createWebSocketStream). */
  kTerminated: Symbol('lws.ws.terminated'),
  /**
   * A WebSocket's `_flags` bits: its yes/no state in one small integer (a field
   * each cost 8 bytes per connection).
   */
  PAUSED: 1, // pause()d
  DELIVER_SCHEDULED: 2, // a tick will emit what was held while paused
  SETTLE_SCHEDULED: 4, // a tick will run the send callbacks
  ERROR_EMITTED: 8,
  CLOSED_CLEANLY: 16, // closed with the close handshake done
  CLOSE_FRAME_RECEIVED: 32, // the peer's close frame arrived (core 'closing')
  CAPTURE_REJECTIONS: 64, // made while EventEmitter.captureRejections was on: emit() catches listeners' rejections
  DEFER_EVENTS: 128, // allowSynchronousEvents: false: one 'message', 'ping' or 'pong' per turn of the event loop
  DEFER_SCHEDULED: 256, // a setImmediate will emit the next deferred event
  /** Header that ties a socket handed to the engine to its pending handleUpgrade() call. */
  HANDOVER_HEADER: 'x-lws-handover',
};

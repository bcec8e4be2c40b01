// Type definitions for lws (core API, node-lws 5 compatible).
/// <reference types="node" />
import { EventEmitter } from 'events';
import type { IncomingMessage, OutgoingHttpHeaders, Server as HttpServer } from 'http';
import type { Server as HttpsServer } from 'https';
import type { Duplex, DuplexOptions, Readable, Writable } from 'stream';

export interface PerMessageDeflateOptions {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number | true;
  /** Accepted and ignored. */
  memLevel?: number;
  /** Messages smaller than this many bytes are sent uncompressed; default 1024. */
  threshold?: number;
  /** zlib compression level 0-9; default 6. */
  level?: number;
}

export interface SslOptions {
  key: string | Buffer;
  cert: string | Buffer;
  ca?: string | Buffer;
  passphrase?: string;
  ciphers?: string;
  rejectUnauthorized?: boolean;
}

export interface ServerOptions {
  /** Port to listen on (0 picks a free one; a numeric string such as `process.env.PORT` too, as net accepts). Without it, use `listen()` or `handleUpgrade()`. */
  port?: number | string;
  /** Address to bind; default `::` (all interfaces, IPv4 and IPv6). */
  host?: string;
  /** SO_REUSEPORT: several processes (e.g. cluster workers) listen on one port; the kernel spreads connections. */
  reusePort?: boolean;
  /**
   * Pub/sub across processes: `{ redis: 'redis://[user:password@]host[:port]', prefix: 'lws:' }`;
   * a list of URLs is a Redis Cluster's nodes (sharded pub/sub, Redis 7+). `rediss://` or `tls`: TLS to Redis.
   */
  pubsub?: {
    redis: string | string[];
    prefix?: string;
    tls?: { ca?: string | Buffer | Array<string | Buffer>; cert?: string | Buffer | Array<string | Buffer>; key?: string | Buffer | Array<string | Buffer>; rejectUnauthorized?: boolean; servername?: string };
  };
  /** Only upgrades to this path are accepted; others get 404. */
  path?: string;
  /** listen(2) backlog; default 511. */
  backlog?: number;
  /** TCP keepalive idle time in seconds (0 or absent: off). */
  keepAliveTime?: number;
  /** TCP keepalive probe interval in seconds. */
  keepAliveInterval?: number;
  /** TCP keepalive probes before the connection is dropped. */
  keepAliveRetry?: number;
  /** Largest 'fragment' event in bytes when a 'fragment' listener streams messages; default 65536. */
  bufferSize?: number;
  /** Largest accepted message in bytes; larger ones close the connection with 1009. Default 16 MiB. */
  maxMessageSize?: number;
  /** permessage-deflate (RFC 7692); no context takeover by default (no zlib state per connection). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Serve wss:// (TLS by rustls in the engine). Paths or PEM. */
  ssl?: SslOptions;
  /** Engine threads (1-8). 0: the engine runs on the JS thread's event loop. Default: 0 on one core, else cores - 1, at most 3. */
  threads?: number;
  /** Bytes of events waiting for JS beyond which sockets are no longer read; default 16 MiB. */
  maxBacklog?: number;
  /** Seconds of silence after which a WebSocket is closed (1001); pinged at half of it. Default off. */
  idleTimeout?: number;
  /** Bytes queued for a socket beyond which a send closes it with 1008 (or drops the message). Default: no limit. */
  maxBackpressure?: number;
  /** false: over maxBackpressure drop the message ('dropped' event) instead of closing. Default true. */
  closeOnBackpressureLimit?: boolean;
  /** false: the engine does not answer pings; answer them with `pong()` from the 'ping' event. Default true. */
  autoPong?: boolean;
  /**
   * A Node `http.Server` (not listening) that gets every connection the engine does not upgrade
   * (plain HTTP, malformed or refused upgrades) as its own 'connection', so express and the like can
   * share the port. Then the 'http' event is not used.
   */
  httpServer?: import('http').Server;
  /** Milliseconds a client has to complete its handshake; default 10000. */
  handshakeTimeout?: number;
  /** Milliseconds a close handshake may take before the socket is dropped; default 5000. */
  closeTimeout?: number;
  /** Largest request head in bytes (431 beyond); default 16384. */
  maxHeaderBytes?: number;
  /** Most request headers (431 beyond); default 64. */
  maxHeaders?: number;
  /** Largest plain HTTP request body for the 'http' event (413 beyond); default 1 MiB. */
  maxHttpBody?: number;
}

/** A connection handle. It stays safe to use after 'close': methods then return false. */
export declare class Socket {
  private constructor();
  readonly fd: number;
  readonly closed: boolean;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: 'IPv4' | 'IPv6' | undefined;
  /** The negotiated Sec-WebSocket-Extensions value ('' when none). */
  readonly extensions: string;
  userData: unknown;
  /** As net.Socket's: TCP keepalive, probing after `initialDelay` ms of silence (0: the system's idle time). */
  setKeepAlive(enable?: boolean, initialDelay?: number): this;
  /** As net.Socket's: TCP_NODELAY (on by default). */
  setNoDelay(noDelay?: boolean): this;
  /** As net.Socket's: whether this connection keeps the process alive (it does until unref()). */
  unref(): this;
  ref(): this;
}

/** A plain HTTP request delivered by the 'http' event. */
export declare class HttpRequest {
  private constructor();
  readonly method: string;
  readonly url: string;
  /** Lowercase names; repeated headers joined with ", ". */
  readonly headers: Record<string, string>;
  readonly rawHeaders: string[];
  readonly body: Buffer;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Answers and closes the connection. Returns false if already answered. */
  respond(status?: number, headers?: Record<string, string | number | string[]>, body?: string | Buffer | Uint8Array): boolean;
}

export declare class UpgradeRequest {
  private constructor();
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly rawHeaders: string[];
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly socket: Socket;
  /** Leaves the answer to a later accept() or refuse(). */
  defer(): this;
  /** Completes the handshake, adding `headers` to the 101. False if already answered or aborted. */
  accept(headers?: Record<string, string | string[]>): boolean;
  /** Refuses with a status from 400 to 599. False if already answered or aborted. */
  refuse(status?: number, headers?: Record<string, string | string[]>): boolean;
  /** Refuses with a whole HTTP response written by the caller, sent as is. False if already answered or aborted. */
  refuseWith(response: string | Buffer): boolean;
  /** With the `httpServer` option: that server takes the connection (and reads this request) instead. */
  handOff(): boolean;
}

/** Opaque value from `prepareBuffer`; released when garbage-collected. */
export interface PreparedBuffer {
  readonly length: number;
}

export type SendData = Buffer | ArrayBufferView | ArrayBuffer | SharedArrayBuffer | string;

export declare class Server extends EventEmitter {
  constructor(options?: ServerOptions, callback?: () => void);
  readonly options: unknown;
  /** The bound port, once listening. */
  readonly port: number | undefined;
  listen(port: number | string, host?: string, callback?: () => void): this;
  listen(port: number | string, callback?: () => void): this;
  address(): { address: string; family: string; port: number } | null;
  /** Stops accepting and frees the port; open connections stay. False if not listening. */
  stopListening(): boolean;

  /**
   * Queues a message (a fragment when `fin` is false). True when queued and the socket keeps
   * up; false when the socket is closed (nothing sent) or backed up (queued all the same;
   * 'drain' follows). A received message sent from its 'message' callback is not copied.
   * Throws a TypeError for a socket of another server, and for a lent message kept past
   * its callback (detached: copy it with `Buffer.from(message)` inside the callback).
   */
  send(socket: Socket, message: SendData, binary?: boolean, fin?: boolean, compress?: boolean): boolean;
  /** Bytes sent and not yet written to the network. */
  getBufferedAmount(socket: Socket): number;
  /** A Writable sending one message as fragments; send() on the socket throws ERR_LWS_SEND_STREAM_ACTIVE until it ends. */
  sendStream(socket: Socket, options?: { binary?: boolean; highWaterMark?: number }): Writable;
  /** ws's createWebSocketStream for this server's socket: messages in, each chunk written one binary message out. */
  createWebSocketStream(socket: Socket, options?: DuplexOptions): Duplex;
  ping(socket: Socket, data?: SendData): boolean;
  pong(socket: Socket, data?: SendData): boolean;
  pause(socket: Socket): boolean;
  resume(socket: Socket): boolean;
  prepareBuffer(message: SendData): PreparedBuffer;
  sendPrepared(socket: Socket, prepared: PreparedBuffer, binary?: boolean): boolean;
  setUserData(socket: Socket, data: unknown): void;
  /** What setUserData stored (typed `any` unless given: `getUserData<Session>(socket)`). */
  getUserData<T = any>(socket: Socket): T;
  getFd(socket: Socket): number;
  /** Starts the close handshake with `code` (1000-1003, 1007-1014 or 3000-4999, as ws); false if already closed. */
  close(socket: Socket, code?: number, reason?: string): boolean;
  /** Stops accepting and closes every connection with 1001. */
  close(callback?: () => void): this;
  /** Drops a socket without a close handshake. */
  terminate(socket: Socket): boolean;
  /** Answers an 'http' request (same as `request.respond`). */
  respond(request: HttpRequest, status?: number, headers?: Record<string, string | number | string[]>, body?: string | Buffer | Uint8Array): boolean;
  /** Takes over an upgrade from Node's http server; false for sockets without a descriptor (TLS). */
  handleUpgrade(socket: Duplex, request: IncomingMessage, head?: Buffer): boolean;
  /** Counters for monitoring (README: stats()). */
  stats(): Stats;
  /** Pub/sub in the engine: true if the subscription is new. */
  subscribe(socket: Socket, topic: string | Uint8Array): boolean;
  unsubscribe(socket: Socket, topic: string | Uint8Array): boolean;
  isSubscribed(socket: Socket, topic: string | Uint8Array): boolean;
  getTopics(socket: Socket): string[];
  numSubscribers(topic: string | Uint8Array): number;
  /** Sends to every subscriber of `topic` (but `skip`); false when nobody is subscribed. */
  publish(topic: string | Uint8Array, message: SendData, binary?: boolean, options?: { skip?: Socket }): boolean;

  /** Return true (403) or an HTTP status (400-599) to refuse the connection. */
  on(event: 'upgrade', listener: (socket: Socket, headers: Record<string, string>, request: UpgradeRequest) => boolean | number | void): this;
  on(event: 'connection', listener: (socket: Socket) => void): this;
  /** `message` is lent: valid only during the callback (detached afterwards, e.g. after an `await`): copy it (`Buffer.from(message)`) to keep it. */
  on(event: 'message', listener: (socket: Socket, message: Buffer, binary: boolean, remainingBytes: number) => void): this;
  on(event: 'fragment', listener: (socket: Socket, fragment: Buffer, binary: boolean, remainingBytes: number) => void): this;
  /** With a listener, every message arrives here as a Readable (instead of 'message'/'fragment'); a full one pauses the socket. */
  on(event: 'messageStream', listener: (socket: Socket, readable: Readable & { binary: boolean }, binary: boolean) => void): this;
  /** The peer's close frame arrived; what is sent from here still leaves before the reply, which echoes code and reason. */
  on(event: 'closing', listener: (socket: Socket, code: number, reason: string) => void): this;
  /** `errorDetail` (with `errorCode`): the number a protocol error is about (opcode, control frame length, close code) or 0. */
  on(event: 'close', listener: (socket: Socket, code: number, reason: string, errorCode?: string, errorDetail?: number) => void): this;
  on(event: 'drain', listener: (socket: Socket) => void): this;
  on(event: 'dropped', listener: (socket: Socket) => void): this;
  on(event: 'aborted', listener: (pending: Socket | HttpRequest) => void): this;
  on(event: 'ping' | 'pong', listener: (socket: Socket, payload: Buffer) => void): this;
  on(event: 'http', listener: (request: HttpRequest, sameRequest: HttpRequest) => void): this;
  /** Listen errors, and `LWS_ERR_INTERNAL` (with `socket`) when the engine closed a socket after a panic. */
  on(event: 'error', listener: (error: NodeJS.ErrnoException & { socket?: Socket }, socket?: Socket) => void): this;
  on(event: 'listening', listener: () => void): this;
  /** With `pubsub.redis`: the link to Redis is up, or down (with the reason). */
  on(event: 'redis', listener: (state: 'up' | 'down', error?: Error & { code?: string }) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** What `stats()` returns: totals since the server (or client) started. */
export interface Stats {
  connections: number;
  accepted: number;
  opened: number;
  closed: number;
  refused: Record<string, number>;
  handshakeTimeouts: number;
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  bytesOut: number;
  dropped: number;
  bufferedBytes: number;
  closeCodes: Record<string, number>;
  protocolErrors: Record<string, number>;
  threads: number;
}

// ---- outgoing connections, node-lws style: `new lws.Client(options).connect(url)` ----

/** lws.Server's options that apply to a connection, and the deflate offer. */
export interface ClientOptions {
  threads?: number;
  maxMessageSize?: number;
  bufferSize?: number;
  handshakeTimeout?: number;
  closeTimeout?: number;
  idleTimeout?: number;
  maxBackpressure?: number;
  closeOnBackpressureLimit?: boolean;
  maxBacklog?: number;
  autoPong?: boolean;
  keepAliveTime?: number;
  keepAliveInterval?: number;
  keepAliveRetry?: number;
  /** Offered to every server (ws's client settings); off by default. */
  perMessageDeflate?: boolean | {
    serverNoContextTakeover?: boolean;
    clientNoContextTakeover?: boolean;
    serverMaxWindowBits?: number | boolean;
    clientMaxWindowBits?: number | boolean;
    threshold?: number;
    level?: number;
  };
}

export interface ConnectOptions {
  headers?: Record<string, string | number | string[]>;
  protocols?: string | string[];
  origin?: string;
  handshakeTimeout?: number;
  localAddress?: string;
  family?: number;
  lookup?: (hostname: string, options: { family?: number; all?: boolean }, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void) => void;
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/** What 'open' tells about the server's 101. */
export interface OpenInfo {
  protocol: string;
  extensions: string;
  headers: Record<string, string | string[] | undefined>;
}

export declare class Client extends EventEmitter {
  constructor(options?: ClientOptions);
  /** Opens a connection to a ws:// or wss:// URL; the socket is returned at once. */
  connect(url: string | URL, options?: ConnectOptions): Socket;
  send(socket: Socket, message: SendData, binary?: boolean, fin?: boolean, compress?: boolean): boolean;
  getBufferedAmount(socket: Socket): number;
  /** A Writable sending one message as fragments; send() on the socket throws ERR_LWS_SEND_STREAM_ACTIVE until it ends. */
  sendStream(socket: Socket, options?: { binary?: boolean; highWaterMark?: number }): Writable;
  /** ws's createWebSocketStream for this server's socket: messages in, each chunk written one binary message out. */
  createWebSocketStream(socket: Socket, options?: DuplexOptions): Duplex;
  ping(socket: Socket, data?: SendData): boolean;
  pong(socket: Socket, data?: SendData): boolean;
  pause(socket: Socket): boolean;
  resume(socket: Socket): boolean;
  prepareBuffer(message: SendData): PreparedBuffer;
  sendPrepared(socket: Socket, prepared: PreparedBuffer, binary?: boolean): boolean;
  setUserData(socket: Socket, data: unknown): void;
  getUserData<T = any>(socket: Socket): T;
  close(socket: Socket, code?: number, reason?: string): boolean;
  /** Closes every connection (1001) and stops the engine. */
  close(callback?: () => void): this;
  terminate(socket: Socket): boolean;
  stats(): Stats;
  /** A socket to hand a connection Node upgraded to (adoptClient). */
  reserveSocket(): Socket;
  adoptClient(socket: Socket, nodeSocket: Duplex, options?: { head?: Buffer; extensions?: string; info?: unknown }): boolean;

  on(event: 'open', listener: (socket: Socket, info: OpenInfo) => void): this;
  /** `message` is lent: valid only during the callback: copy it (`Buffer.from(message)`) to keep it. */
  on(event: 'message', listener: (socket: Socket, message: Buffer, binary: boolean, remainingBytes: number) => void): this;
  on(event: 'fragment', listener: (socket: Socket, fragment: Buffer, binary: boolean, remainingBytes: number) => void): this;
  /** With a listener, every message arrives here as a Readable (instead of 'message'/'fragment'); a full one pauses the socket. */
  on(event: 'messageStream', listener: (socket: Socket, readable: Readable & { binary: boolean }, binary: boolean) => void): this;
  on(event: 'closing', listener: (socket: Socket, code: number, reason: string) => void): this;
  on(event: 'close', listener: (socket: Socket, code: number, reason: string, errorCode?: string, errorDetail?: number) => void): this;
  on(event: 'drain' | 'dropped', listener: (socket: Socket) => void): this;
  on(event: 'ping' | 'pong', listener: (socket: Socket, payload: Buffer) => void): this;
  /** A connection that failed before it opened (the error Node's http client would give); 'close' follows. */
  on(event: 'error', listener: (error: NodeJS.ErrnoException & { socket?: Socket; response?: IncomingMessage }, socket: Socket) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

// ---- ws-compatible server side: `const { WebSocketServer } = require('lws')` ----
// Typed as @types/ws types ws 8's server side, so that code written against ws
// compiles unchanged (checked by __test__/types.test.js: one program against both).

/** The request of a connection: an http.IncomingMessage in every mode (port mode: built by lws, `socket` has addresses only). */
export interface WebSocketRequest {
  readonly method?: string;
  readonly url?: string;
  readonly headers: IncomingMessage['headers'];
  readonly rawHeaders: string[];
  readonly socket: {
    readonly remoteAddress?: string; readonly remotePort?: number; readonly remoteFamily?: string;
    readonly localAddress?: string; readonly localPort?: number; readonly encrypted?: boolean;
  };
}

/** What ws.send() takes (as @types/ws: anything Buffer.from() takes, Blobs, and arrays as ws converts them). */
export type WebSocketData =
  | string | Buffer | DataView | number | ArrayBufferView | Uint8Array | ArrayBuffer | SharedArrayBuffer | Blob
  | readonly any[] | readonly number[]
  | { valueOf(): ArrayBuffer } | { valueOf(): SharedArrayBuffer } | { valueOf(): Uint8Array }
  | { valueOf(): readonly number[] } | { valueOf(): string }
  | { [Symbol.toPrimitive](hint: string): string }
  | null | undefined;
/** `'blob'` is ws 8.18's, and lws's; @types/ws does not list it yet. */
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';

export type VerifyClientCallbackSync<Request extends IncomingMessage = IncomingMessage> = (info: {
  origin: string;
  secure: boolean;
  req: Request;
}) => boolean;
export type VerifyClientCallbackAsync<Request extends IncomingMessage = IncomingMessage> = (
  info: { origin: string; secure: boolean; req: Request },
  callback: (verified: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void,
) => void;
/** @deprecated the argument of VerifyClientCallbackSync / Async. */
export interface VerifyClientInfo {
  origin: string;
  secure: boolean;
  req: IncomingMessage;
}

export interface WebSocketPerMessageDeflateOptions {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number | boolean;
  clientMaxWindowBits?: number | boolean;
  /** Messages smaller than this go uncompressed on connections without server context takeover; default 1024. */
  threshold?: number;
  /** Only `level` applies; the other zlib options are accepted and ignored. */
  zlibDeflateOptions?: { level?: number; [option: string]: unknown };
  /** Accepted and ignored. */
  zlibInflateOptions?: object;
  /** Accepted and ignored. */
  concurrencyLimit?: number;
}

export interface WebSocketServerOptions<
  T extends typeof WebSocket = typeof WebSocket,
  U extends typeof IncomingMessage = typeof IncomingMessage,
> {
  /** Port for the engine to listen on (one of port, server, noServer); a numeric string is accepted, as by net. */
  port?: number | string;
  host?: string;
  backlog?: number;
  /** An http/https server whose 'upgrade' events are taken over (works with express). */
  server?: HttpServer<U> | HttpsServer<U>;
  /** Call handleUpgrade() yourself. */
  noServer?: boolean;
  /** Only this path is accepted (query ignored); others get 400. */
  path?: string;
  verifyClient?: VerifyClientCallbackAsync<InstanceType<U>> | VerifyClientCallbackSync<InstanceType<U>>;
  handleProtocols?: (protocols: Set<string>, request: InstanceType<U>) => string | false;
  /** Track clients in `clients`; default true. */
  clientTracking?: boolean;
  /** Largest message in bytes (0: no limit); default 100 MiB. Larger ones close with 1009. */
  maxPayload?: number;
  /**
   * permessage-deflate, negotiated by ws's rules (context takeover both ways by
   * default), compressed by the engine. Of the zlib options only `zlibDeflateOptions.level` applies.
   */
  perMessageDeflate?: boolean | WebSocketPerMessageDeflateOptions;
  /** Accepted; the engine always validates UTF-8. */
  skipUTF8Validation?: boolean;
  /** Milliseconds close() waits for the peer's close frame before dropping the connection (1006); default 30000. */
  closeTimeout?: number;
  /** The class for connections: WebSocket or a subclass. */
  WebSocket?: T;
  /** Pings are answered automatically (default true); false leaves it to `ws.pong()` in a 'ping' listener. */
  autoPong?: boolean;
  /** Accepted; events are always emitted as ws's default (true) does. */
  allowSynchronousEvents?: boolean;
  /** Accepted and ignored (ws's limits on a message's chunks and fragments; the engine counts frames itself). */
  maxBufferedChunks?: number;
  maxFragments?: number;
  /** lws engine options, passed through. */
  threads?: number;
  maxBacklog?: number;
  bufferSize?: number;
  handshakeTimeout?: number;
  keepAliveTime?: number;
  keepAliveInterval?: number;
  keepAliveRetry?: number;
  maxHeaderBytes?: number;
  maxHeaders?: number;
}

/** ws's client options (`new WebSocket(address, protocols, options)`), as @types/ws has them. */
export interface WebSocketClientOptions extends Omit<import('https').RequestOptions, 'timeout' | 'protocol' | 'host' | 'hostname' | 'path' | 'port' | 'method' | 'socketPath'> {
  /** Subprotocols (the `protocols` argument takes precedence). */
  protocols?: string | string[];
  /** Milliseconds to complete the opening handshake. */
  handshakeTimeout?: number;
  /** Origin (Sec-WebSocket-Origin with protocolVersion 8). */
  origin?: string;
  /** Sec-WebSocket-Version: 8 or 13; default 13. */
  protocolVersion?: number;
  /** Offered by default (`true`); ws's client settings; of zlibDeflateOptions only `level` applies. */
  perMessageDeflate?: boolean | {
    serverNoContextTakeover?: boolean;
    clientNoContextTakeover?: boolean;
    serverMaxWindowBits?: number | boolean;
    clientMaxWindowBits?: number | boolean;
    zlibDeflateOptions?: { level?: number; [key: string]: unknown };
    zlibInflateOptions?: { [key: string]: unknown };
    threshold?: number;
    concurrencyLimit?: number;
  };
  /** Largest message accepted, in bytes; default 100 MiB (0: no limit). */
  maxPayload?: number;
  followRedirects?: boolean;
  /** Default 10. */
  maxRedirects?: number;
  /** Accepted; the engine validates UTF-8 all the same (README, differences). */
  skipUTF8Validation?: boolean;
  /** Default true. */
  autoPong?: boolean;
  /** Milliseconds a close() waits for the peer's answer; default 30000. */
  closeTimeout?: number;
  /** Accepted; events are emitted as the engine's batches bring them. */
  allowSynchronousEvents?: boolean;
  /** Accepted; the engine masks with kernel-random keys (README, differences). */
  generateMask?(mask: Buffer): void;
  /** Runs on Node's path: the request is Node's, then the engine adopts the connection. */
  finishRequest?(request: import('http').ClientRequest, websocket: WebSocket): void;
  // agent, createConnection, lookup, family, localAddress, headers, auth and the TLS options come from
  // RequestOptions. TLS (wss:): ca, cert, key, rejectUnauthorized and servername run in the engine
  // (rustls); with any other TLS option (checkServerIdentity, pfx, ...) the handshake uses Node's TLS.
}

/** ws's WebSocket: a client (`new WebSocket(url)`), or a server-side socket from WebSocketServer. */
export declare class WebSocket extends EventEmitter {
  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  static readonly WebSocketServer: typeof WebSocketServer;
  static readonly Server: typeof WebSocketServer;
  static readonly createWebSocketStream: typeof createWebSocketStream;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;

  /** Connects to a ws:, wss:, http:, https: or ws+unix: URL. */
  constructor(address: string | URL, options?: WebSocketClientOptions);
  constructor(address: string | URL, protocols?: string | string[], options?: WebSocketClientOptions);
  constructor(address: null, protocols?: undefined, options?: WebSocketServerOptions);
  binaryType: BinaryType;
  readonly bufferedAmount: number;
  /** The negotiated Sec-WebSocket-Extensions (e.g. 'permessage-deflate'), '' when none. */
  readonly extensions: string;
  readonly isPaused: boolean;
  readonly protocol: string;
  readonly readyState: 0 | 1 | 2 | 3;
  /** The URL a client connects to (after redirects, the last one); undefined on the server side, as in ws (typed string, as @types/ws types it). */
  readonly url: string;

  onopen: ((event: WebSocket.Event) => void) | null;
  onerror: ((event: WebSocket.ErrorEvent) => void) | null;
  onclose: ((event: WebSocket.CloseEvent) => void) | null;
  onmessage: ((event: WebSocket.MessageEvent) => void) | null;

  send(data: WebSocketData, cb?: (err?: Error) => void): void;
  send(data: WebSocketData, options: { binary?: boolean; compress?: boolean; fin?: boolean; mask?: boolean }, cb?: (err?: Error) => void): void;
  ping(data?: any, mask?: boolean, cb?: (err: Error) => void): void;
  /** lws extension: pub/sub in the engine (WebSocketServer#publish reaches it); true if the subscription is new. */
  subscribe(topic: string | Uint8Array): boolean;
  unsubscribe(topic: string | Uint8Array): boolean;
  isSubscribed(topic: string | Uint8Array): boolean;
  getTopics(): string[];
  pong(data?: any, mask?: boolean, cb?: (err: Error) => void): void;
  /** code: 1000-1003, 1007-1014 or 3000-4999; reason at most 123 bytes. */
  close(code?: number, reason?: string | Buffer): void;
  terminate(): void;
  pause(): void;
  resume(): void;

  addEventListener<K extends keyof WebSocket.WebSocketEventMap>(
    type: K,
    listener: ((event: WebSocket.WebSocketEventMap[K]) => void) | { handleEvent(event: WebSocket.WebSocketEventMap[K]): void },
    options?: WebSocket.EventListenerOptions,
  ): void;
  removeEventListener<K extends keyof WebSocket.WebSocketEventMap>(
    type: K,
    listener: ((event: WebSocket.WebSocketEventMap[K]) => void) | { handleEvent(event: WebSocket.WebSocketEventMap[K]): void },
  ): void;

  /**
   * An owned copy. Text messages are Buffers too (isBinary false); binary ones follow
   * `binaryType` (a Blob with 'blob', which @types/ws does not type: RawData is its type).
   */
  on(event: 'message', listener: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void): this;
  on(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  /** Protocol errors as ws reports them: `code` is e.g. 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'. */
  on(event: 'error', listener: (this: WebSocket, error: Error) => void): this;
  on(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  on(event: 'open', listener: (this: WebSocket) => void): this;
  /** Client: the server's 101, before ws's checks of it. */
  on(event: 'upgrade', listener: (this: WebSocket, response: IncomingMessage) => void): this;
  /** Client: an answer other than 101 (nothing else happens until the request is aborted or the socket closed). */
  on(event: 'unexpected-response', listener: (this: WebSocket, request: { method: string; path: string; host: string; abort(): void; destroy(err?: Error): void }, response: IncomingMessage) => void): this;
  /** Client (followRedirects): before the redirected request is made. */
  on(event: 'redirect', listener: (this: WebSocket, url: string, request: { method: string; path: string; host: string; abort(): void; destroy(err?: Error): void }) => void): this;
  on(event: string | symbol, listener: (this: WebSocket, ...args: any[]) => void): this;
  once(event: 'message', listener: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void): this;
  once(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  once(event: 'error', listener: (this: WebSocket, error: Error) => void): this;
  once(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  once(event: 'open', listener: (this: WebSocket) => void): this;
  once(event: string | symbol, listener: (this: WebSocket, ...args: any[]) => void): this;
  off(event: 'message', listener: (this: WebSocket, data: WebSocket.RawData, isBinary: boolean) => void): this;
  off(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  off(event: 'error', listener: (this: WebSocket, error: Error) => void): this;
  off(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  off(event: 'open', listener: (this: WebSocket) => void): this;
  off(event: string | symbol, listener: (this: WebSocket, ...args: any[]) => void): this;
  addListener(event: 'message', listener: (data: WebSocket.RawData, isBinary: boolean) => void): this;
  addListener(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  addListener(event: 'error', listener: (error: Error) => void): this;
  addListener(event: 'ping' | 'pong', listener: (data: Buffer) => void): this;
  addListener(event: 'open', listener: () => void): this;
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;
  removeListener(event: 'message', listener: (data: WebSocket.RawData, isBinary: boolean) => void): this;
  removeListener(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  removeListener(event: 'error', listener: (error: Error) => void): this;
  removeListener(event: 'ping' | 'pong', listener: (data: Buffer) => void): this;
  removeListener(event: 'open', listener: () => void): this;
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** The types @types/ws keeps under its WebSocket namespace, at the same names (`WebSocket.RawData`, ...). */
export declare namespace WebSocket {
  /** A received message: a Buffer ('nodebuffer'), an ArrayBuffer ('arraybuffer') or Buffer[] ('fragments'). */
  type RawData = Buffer | ArrayBuffer | Buffer[];
  type Data = string | Buffer | ArrayBuffer | Buffer[];
  type ServerOptions<T extends typeof WebSocket = typeof WebSocket, U extends typeof IncomingMessage = typeof IncomingMessage> = WebSocketServerOptions<T, U>;
  type PerMessageDeflateOptions = WebSocketPerMessageDeflateOptions;
  type ClientOptions = WebSocketClientOptions;
  type Server<T extends typeof WebSocket = typeof WebSocket, U extends typeof IncomingMessage = typeof IncomingMessage> = WebSocketServer<T, U>;
  interface Event {
    type: string;
    target: WebSocket;
  }
  interface ErrorEvent {
    error: any;
    message: string;
    type: string;
    target: WebSocket;
  }
  interface CloseEvent {
    wasClean: boolean;
    code: number;
    reason: string;
    type: string;
    target: WebSocket;
  }
  interface MessageEvent {
    data: Data;
    type: string;
    target: WebSocket;
  }
  interface WebSocketEventMap {
    open: Event;
    error: ErrorEvent;
    close: CloseEvent;
    message: MessageEvent;
  }
  interface EventListenerOptions {
    once?: boolean;
  }
  interface AddressInfo {
    address: string;
    family: string;
    port: number;
  }
}

// The same types by name, as `import type { RawData } from 'ws'` finds them.
export type RawData = WebSocket.RawData;
export type Data = WebSocket.Data;
export type Event = WebSocket.Event;
export type MessageEvent = WebSocket.MessageEvent;
export type CloseEvent = WebSocket.CloseEvent;
export type ErrorEvent = WebSocket.ErrorEvent;
export type WebSocketEventMap = WebSocket.WebSocketEventMap;
export type AddressInfo = WebSocket.AddressInfo;
// Earlier names of the event types.
export type WebSocketEvent = WebSocket.Event;
export type WebSocketMessageEvent = WebSocket.MessageEvent;
export type WebSocketCloseEvent = WebSocket.CloseEvent;
export type WebSocketErrorEvent = WebSocket.ErrorEvent;

/** ws's WebSocketServer, over the lws engine. Type parameters as @types/ws's Server. */
export declare class WebSocketServer<
  T extends typeof WebSocket = typeof WebSocket,
  U extends typeof IncomingMessage = typeof IncomingMessage,
> extends EventEmitter {
  constructor(options?: WebSocketServerOptions<T, U>, callback?: () => void);
  options: WebSocketServerOptions<T, U>;
  /** The open connections (undefined with clientTracking: false). */
  clients: Set<InstanceType<T>>;
  /** The bound address; null once closed; throws in noServer mode. */
  address(): WebSocket.AddressInfo | string | null;
  /** Stops accepting; open connections are not closed (ws 8). */
  close(cb?: (err?: Error) => void): void;
  /** Takes over an upgrade from an http/https server (or any Duplex); `callback` runs once the connection is open. */
  handleUpgrade(request: InstanceType<U>, socket: Duplex, upgradeHead: Buffer, callback: (client: InstanceType<T>, request: InstanceType<U>) => void): void;
  shouldHandle(request: InstanceType<U>): boolean | Promise<boolean>;
  /** lws extension: the engine's counters (README: stats()). */
  stats(): Stats;
  /** lws extension: sends to every WebSocket subscribed to `topic` (ws.subscribe) but `skip`; false when none is. */
  publish(topic: string | Uint8Array, data: WebSocketData, options?: { binary?: boolean; skip?: WebSocket }): boolean;
  /** lws extension: how many WebSockets are subscribed to `topic`. */
  numSubscribers(topic: string | Uint8Array): number;

  on(event: 'connection', listener: (this: WebSocketServer<T, U>, socket: InstanceType<T>, request: InstanceType<U>) => void): this;
  on(event: 'error', listener: (this: WebSocketServer<T, U>, error: Error) => void): this;
  on(event: 'headers', listener: (this: WebSocketServer<T, U>, headers: string[], request: InstanceType<U>) => void): this;
  on(event: 'close' | 'listening', listener: (this: WebSocketServer<T, U>) => void): this;
  on(event: 'wsClientError', listener: (this: WebSocketServer<T, U>, error: Error, socket: Duplex, request: InstanceType<U>) => void): this;
  on(event: string | symbol, listener: (this: WebSocketServer<T, U>, ...args: any[]) => void): this;
  once(event: 'connection', listener: (this: WebSocketServer<T, U>, socket: InstanceType<T>, request: InstanceType<U>) => void): this;
  once(event: 'error', listener: (this: WebSocketServer<T, U>, error: Error) => void): this;
  once(event: 'headers', listener: (this: WebSocketServer<T, U>, headers: string[], request: InstanceType<U>) => void): this;
  once(event: 'close' | 'listening', listener: (this: WebSocketServer<T, U>) => void): this;
  once(event: 'wsClientError', listener: (this: WebSocketServer<T, U>, error: Error, socket: Duplex, request: InstanceType<U>) => void): this;
  once(event: string | symbol, listener: (this: WebSocketServer<T, U>, ...args: any[]) => void): this;
  off(event: 'connection', listener: (this: WebSocketServer<T, U>, socket: InstanceType<T>, request: InstanceType<U>) => void): this;
  off(event: 'error', listener: (this: WebSocketServer<T, U>, error: Error) => void): this;
  off(event: 'headers', listener: (this: WebSocketServer<T, U>, headers: string[], request: InstanceType<U>) => void): this;
  off(event: 'close' | 'listening', listener: (this: WebSocketServer<T, U>) => void): this;
  off(event: 'wsClientError', listener: (this: WebSocketServer<T, U>, error: Error, socket: Duplex, request: InstanceType<U>) => void): this;
  off(event: string | symbol, listener: (this: WebSocketServer<T, U>, ...args: any[]) => void): this;
}

/** Same as WebSocketServer (the name used by lws's documentation for the ws drop-in). */
export declare const wsServer: typeof WebSocketServer;

/** A Duplex over a WebSocket, as ws's createWebSocketStream. */
export declare function createWebSocketStream(websocket: WebSocket, options?: DuplexOptions): Duplex;

export declare const CONNECTING: 0;
export declare const OPEN: 1;
export declare const CLOSING: 2;
export declare const CLOSED: 3;

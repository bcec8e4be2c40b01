// Type definitions for lws (core API, node-lws 5 compatible).
/// <reference types="node" />
import { EventEmitter } from 'events';
import type { IncomingMessage, OutgoingHttpHeaders, Server as HttpServer } from 'http';
import type { Server as HttpsServer } from 'https';
import type { Duplex, DuplexOptions } from 'stream';

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
  /** Port to listen on (0 picks a free one). Without it, use `listen()` or `handleUpgrade()`. */
  port?: number;
  /** Address to bind; default `::` (all interfaces, IPv4 and IPv6). */
  host?: string;
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
  /** Engine threads (1-8); default 1. 0: the engine runs on the JS thread's event loop. */
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
  listen(port: number, host?: string, callback?: () => void): this;
  listen(port: number, callback?: () => void): this;
  address(): { address: string; family: string; port: number } | null;
  /** Stops accepting and frees the port; open connections stay. False if not listening. */
  stopListening(): boolean;

  /**
   * Queues a message (a fragment when `fin` is false). True when queued and the socket keeps
   * up; false when the socket is closed (nothing sent) or backed up (queued all the same;
   * 'drain' follows). A received message sent from its 'message' callback is not copied.
   */
  send(socket: Socket, message: SendData, binary?: boolean, fin?: boolean, compress?: boolean): boolean;
  /** Bytes sent and not yet written to the network. */
  getBufferedAmount(socket: Socket): number;
  ping(socket: Socket, data?: SendData): boolean;
  pong(socket: Socket, data?: SendData): boolean;
  pause(socket: Socket): boolean;
  resume(socket: Socket): boolean;
  prepareBuffer(message: SendData): PreparedBuffer;
  sendPrepared(socket: Socket, prepared: PreparedBuffer, binary?: boolean): boolean;
  setUserData(socket: Socket, data: unknown): void;
  getUserData(socket: Socket): unknown;
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

  /** Return true (403) or an HTTP status (400-599) to refuse the connection. */
  on(event: 'upgrade', listener: (socket: Socket, headers: Record<string, string>, request: UpgradeRequest) => boolean | number | void): this;
  on(event: 'connection', listener: (socket: Socket) => void): this;
  /** `message` is valid only during the callback (it is emptied afterwards): copy it to keep it. */
  on(event: 'message', listener: (socket: Socket, message: Buffer, binary: boolean, remainingBytes: number) => void): this;
  on(event: 'fragment', listener: (socket: Socket, fragment: Buffer, binary: boolean, remainingBytes: number) => void): this;
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
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

// ---- ws-compatible server side: `const { WebSocketServer } = require('lws')` ----

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

export interface VerifyClientInfo {
  origin: string | undefined;
  secure: boolean;
  req: IncomingMessage;
}

export type VerifyClientCallbackSync = (info: VerifyClientInfo) => boolean;
export type VerifyClientCallbackAsync = (
  info: VerifyClientInfo,
  callback: (verified: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void,
) => void;

export interface WebSocketServerOptions {
  /** Port for the engine to listen on (one of port, server, noServer). */
  port?: number;
  host?: string;
  backlog?: number;
  /** An http/https server whose 'upgrade' events are taken over (works with express). */
  server?: HttpServer | HttpsServer;
  /** Call handleUpgrade() yourself. */
  noServer?: boolean;
  /** Only this path is accepted (query ignored); others get 400. */
  path?: string;
  verifyClient?: VerifyClientCallbackSync | VerifyClientCallbackAsync;
  handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false;
  /** Track clients in `clients`; default true. */
  clientTracking?: boolean;
  /** Largest message in bytes (0: no limit); default 100 MiB. Larger ones close with 1009. */
  maxPayload?: number;
  /**
   * permessage-deflate, negotiated as ws does (ws's defaults: context takeover both ways).
   * Of the zlib options only `zlibDeflateOptions.level` applies.
   */
  perMessageDeflate?: boolean | {
    serverNoContextTakeover?: boolean;
    clientNoContextTakeover?: boolean;
    serverMaxWindowBits?: number | boolean;
    clientMaxWindowBits?: number | boolean;
    /** Messages smaller than this go uncompressed on connections without server context takeover; default 1024. */
    threshold?: number;
    zlibDeflateOptions?: { level?: number; [option: string]: unknown };
    zlibInflateOptions?: object;
    concurrencyLimit?: number;
  };
  /** Accepted; the engine always validates UTF-8. */
  skipUTF8Validation?: boolean;
  /** Milliseconds close() waits for the peer's close frame before dropping the connection (1006); default 30000. */
  closeTimeout?: number;
  /** The class for connections: WebSocket or a subclass. */
  WebSocket?: typeof WebSocket;
  /** Pings are answered automatically (default true); false leaves it to `ws.pong()` in a 'ping' listener. */
  autoPong?: boolean;
  allowSynchronousEvents?: boolean;
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

export type WebSocketData = string | Buffer | ArrayBuffer | ArrayBufferView | Blob | readonly number[] | number | null | undefined;
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';

export declare class WebSocketEvent {
  readonly type: string;
  readonly target: WebSocket;
}
export declare class WebSocketMessageEvent extends WebSocketEvent {
  readonly data: string | Buffer | ArrayBuffer | Buffer[] | Blob;
}
export declare class WebSocketCloseEvent extends WebSocketEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}
export declare class WebSocketErrorEvent extends WebSocketEvent {
  readonly error: Error;
  readonly message: string;
}

/** ws's client options (`new WebSocket(address, protocols, options)`), as @types/ws has them. */
export interface ClientOptions extends Omit<import('https').RequestOptions, 'timeout' | 'protocol' | 'host' | 'hostname' | 'path' | 'port' | 'method' | 'socketPath'> {
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
  static readonly WebSocket: typeof WebSocket;
  static readonly WebSocketServer: typeof WebSocketServer;
  static readonly Server: typeof WebSocketServer;
  static readonly createWebSocketStream: typeof createWebSocketStream;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;

  /** Connects to a ws:, wss:, http:, https: or ws+unix: URL. */
  constructor(address: string | URL, options?: ClientOptions);
  constructor(address: string | URL, protocols?: string | string[], options?: ClientOptions);
  constructor(address: null, protocols?: undefined, options?: WebSocketServerOptions);
  binaryType: BinaryType;
  readonly bufferedAmount: number;
  /** The negotiated extensions by name ('permessage-deflate' or ''). */
  readonly extensions: string;
  readonly isPaused: boolean;
  readonly protocol: string;
  readonly readyState: 0 | 1 | 2 | 3;
  /** The URL a client connects to (after redirects, the last one); undefined on the server side, as in ws. */
  readonly url: string | undefined;

  onopen: ((event: WebSocketEvent) => void) | null;
  onerror: ((event: WebSocketErrorEvent) => void) | null;
  onclose: ((event: WebSocketCloseEvent) => void) | null;
  onmessage: ((event: WebSocketMessageEvent) => void) | null;

  send(data: WebSocketData, cb?: (err?: Error) => void): void;
  send(data: WebSocketData, options: { binary?: boolean; compress?: boolean; fin?: boolean; mask?: boolean }, cb?: (err?: Error) => void): void;
  ping(data?: WebSocketData, mask?: boolean, cb?: (err?: Error) => void): void;
  ping(cb: (err?: Error) => void): void;
  pong(data?: WebSocketData, mask?: boolean, cb?: (err?: Error) => void): void;
  pong(cb: (err?: Error) => void): void;
  /** code: 1000-1003, 1007-1014 or 3000-4999; reason at most 123 bytes. */
  close(code?: number, reason?: string | Buffer): void;
  terminate(): void;
  pause(): void;
  resume(): void;

  addEventListener(type: 'message', listener: ((event: WebSocketMessageEvent) => void) | { handleEvent(event: WebSocketMessageEvent): void }, options?: { once?: boolean }): void;
  addEventListener(type: 'close', listener: ((event: WebSocketCloseEvent) => void) | { handleEvent(event: WebSocketCloseEvent): void }, options?: { once?: boolean }): void;
  addEventListener(type: 'error', listener: ((event: WebSocketErrorEvent) => void) | { handleEvent(event: WebSocketErrorEvent): void }, options?: { once?: boolean }): void;
  addEventListener(type: 'open', listener: ((event: WebSocketEvent) => void) | { handleEvent(event: WebSocketEvent): void }, options?: { once?: boolean }): void;
  removeEventListener(type: 'message' | 'close' | 'error' | 'open', listener: unknown): void;

  /** A copy, owned by the listener. Text messages are Buffers too (isBinary false). */
  on(event: 'message', listener: (this: WebSocket, data: Buffer | ArrayBuffer | Buffer[] | Blob, isBinary: boolean) => void): this;
  on(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  /** Protocol errors as ws reports them: `code` is e.g. 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'. */
  on(event: 'error', listener: (this: WebSocket, error: Error & { code?: string }) => void): this;
  on(event: 'ping' | 'pong', listener: (this: WebSocket, data: Buffer) => void): this;
  on(event: 'open', listener: (this: WebSocket) => void): this;
  /** Client: the server's 101, before ws's checks of it. */
  on(event: 'upgrade', listener: (this: WebSocket, response: IncomingMessage) => void): this;
  /** Client: an answer other than 101 (nothing else happens until the request is aborted or the socket closed). */
  on(event: 'unexpected-response', listener: (this: WebSocket, request: { method: string; path: string; host: string; abort(): void; destroy(err?: Error): void }, response: IncomingMessage) => void): this;
  /** Client (followRedirects): before the redirected request is made. */
  on(event: 'redirect', listener: (this: WebSocket, url: string, request: { method: string; path: string; host: string; abort(): void; destroy(err?: Error): void }) => void): this;
  on(event: string | symbol, listener: (this: WebSocket, ...args: any[]) => void): this;
  once(event: 'message', listener: (this: WebSocket, data: Buffer | ArrayBuffer | Buffer[] | Blob, isBinary: boolean) => void): this;
  once(event: 'close', listener: (this: WebSocket, code: number, reason: Buffer) => void): this;
  once(event: string | symbol, listener: (this: WebSocket, ...args: any[]) => void): this;
}

/** ws's WebSocketServer, over the lws engine. */
export declare class WebSocketServer<T extends WebSocket = WebSocket> extends EventEmitter {
  constructor(options: WebSocketServerOptions, callback?: () => void);
  readonly options: WebSocketServerOptions;
  /** The open connections (undefined with clientTracking: false). */
  readonly clients: Set<T>;
  /** The bound address; null once closed; throws in noServer mode. */
  address(): { address: string; family: string; port: number } | string | null;
  /** Stops accepting; open connections are not closed (ws 8). */
  close(cb?: (err?: Error) => void): void;
  /** Takes over an upgrade from an http/https server (or any Duplex); `callback` runs once the connection is open. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, callback: (client: T, request: IncomingMessage) => void): void;
  shouldHandle(request: IncomingMessage): boolean;

  on(event: 'connection', listener: (this: WebSocketServer<T>, socket: T, request: IncomingMessage) => void): this;
  on(event: 'error', listener: (this: WebSocketServer<T>, error: Error) => void): this;
  on(event: 'headers', listener: (this: WebSocketServer<T>, headers: string[], request: IncomingMessage) => void): this;
  on(event: 'close' | 'listening', listener: (this: WebSocketServer<T>) => void): this;
  on(event: 'wsClientError', listener: (this: WebSocketServer<T>, error: Error, socket: Duplex, request: IncomingMessage) => void): this;
  on(event: string | symbol, listener: (this: WebSocketServer<T>, ...args: any[]) => void): this;
}

/** Same as WebSocketServer (the name used by lws's documentation for the ws drop-in). */
export declare const wsServer: typeof WebSocketServer;

/** A Duplex over a WebSocket, as ws's createWebSocketStream. */
export declare function createWebSocketStream(websocket: WebSocket, options?: DuplexOptions): Duplex;

export declare const CONNECTING: 0;
export declare const OPEN: 1;
export declare const CLOSING: 2;
export declare const CLOSED: 3;

// Type definitions for lws (core API, node-lws 5 compatible).
/// <reference types="node" />
import { EventEmitter } from 'events';
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';

export interface PerMessageDeflateOptions {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number | true;
  memLevel?: number;
  threshold?: number;
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
  /** Validated; compression is not negotiated yet (clients fall back to uncompressed). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Validated; TLS is not available yet and a valid `ssl` object throws ERR_LWS_TLS_UNAVAILABLE. */
  ssl?: SslOptions;
  /** Engine threads; default 1. */
  threads?: number;
  /** Bytes of events waiting for JS beyond which sockets are no longer read; default 16 MiB. */
  maxBacklog?: number;
  /** Microseconds an engine thread waits awake for JS's replies before sleeping; default 30, 0 = off. */
  replySpin?: number;
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

  /** Queues a message (a fragment when `fin` is false); false if the socket is closed. */
  send(socket: Socket, message: SendData, binary?: boolean, fin?: boolean): boolean;
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
  /** Starts the close handshake with `code` (1000 or 3000-4999); false if already closed. */
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
  on(event: 'close', listener: (socket: Socket, code: number, reason: string, errorCode?: string) => void): this;
  on(event: 'drain', listener: (socket: Socket) => void): this;
  on(event: 'aborted', listener: (pending: Socket | HttpRequest) => void): this;
  on(event: 'ping' | 'pong', listener: (socket: Socket, payload: Buffer) => void): this;
  on(event: 'http', listener: (request: HttpRequest, sameRequest: HttpRequest) => void): this;
  on(event: 'error', listener: (error: NodeJS.ErrnoException) => void): this;
  on(event: 'listening', listener: () => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

// require('lws/walve'): walve 2's API over the lws engine (README: "lws/walve").
/// <reference types="node" />
import { EventEmitter } from 'events';
import { Readable, Transform, TransformOptions, Writable } from 'stream';
import type { Server as HttpServer } from 'http';
import type { Server as HttpsServer } from 'https';

/** A received frame's header, as walve 2 gives it. */
export interface IncomingHeader {
  final: boolean;
  /** Frames from a client are always masked. */
  masked: boolean;
  /** 0x0 continuation, 0x1 text, 0x2 binary, 0x8 close, 0x9 ping, 0xA pong. */
  opcode: number;
  /** Payload bytes (at most 2^32 - 1). */
  length: number;
  /** The 4-byte masking key (when masked). */
  masking?: Buffer;
}

/** The header of a frame to send (read at the first write). */
export interface OutgoingHeader {
  /** Default true. */
  final?: boolean;
  /** Default 0x01 (text). */
  opcode?: number;
  /** The payload's length; default 0. Bytes past it are dropped. */
  length?: number;
  /** Masks the frame read from the Outgoing itself; a Socket ignores it (a server's frames are never masked, RFC 6455 5.1). */
  masked?: boolean;
  /** The 4-byte masking key; random (and set here) when masked without one. */
  masking?: Buffer;
}

export interface ServerOptions {
  /** Only upgrades to exactly this URL (several servers on one http server). */
  url?: string;
}

export class Server extends EventEmitter {
  constructor(options?: ServerOptions);
  url: string | undefined;
  /** Takes upgrades from the http (or https) server's 'upgrade' event. */
  listen(http: HttpServer | HttpsServer): this;
  on(event: 'connect', listener: (socket: Socket) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'connect', listener: (socket: Socket) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** One WebSocket connection: pipe Outgoings into it; 'incoming' per received frame. */
export class Socket extends Writable {
  /** Sockets come from the server's 'connect' event (throws a TypeError otherwise). */
  private constructor();
  on(event: 'incoming', listener: (incoming: Incoming) => void): this;
  on(event: 'end' | 'close' | 'finish', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'incoming', listener: (incoming: Incoming) => void): this;
  once(event: 'end' | 'close' | 'finish', listener: () => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** A received frame: its payload, unmasked, ending with the frame. */
export class Incoming extends Readable {
  /** Incomings come from a socket's 'incoming' event (throws a TypeError otherwise). */
  private constructor();
  header: IncomingHeader;
}

/** A frame to send: write its payload (header.length bytes), pipe it into a Socket. */
export class Outgoing extends Transform {
  constructor(options?: TransformOptions & { header?: OutgoingHeader });
  header: OutgoingHeader;
}

/** A Server with `listener` on 'connect'. */
export function createServer(listener?: (socket: Socket) => void): Server;

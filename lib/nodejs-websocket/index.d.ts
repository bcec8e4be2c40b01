// Types for require('lws/nodejs-websocket'): the nodejs-websocket 1.7 API.
import { EventEmitter } from 'events';
import { Readable, Writable } from 'stream';
import { Server as LwsServer, Socket as LwsSocket } from '../../index';

export interface ServerOptions {
  /** wss:// with `key` and `cert` (PEM). */
  secure?: boolean;
  key?: string | Buffer;
  cert?: string | Buffer;
  ca?: string | Buffer | Array<string | Buffer>;
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
  validProtocols?: string[];
  selectProtocol?: (connection: Connection, protocols: string[]) => string | undefined | null;
}

export interface ConnectOptions {
  extraHeaders?: Record<string, string>;
  protocols?: string[];
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
  localAddress?: string;
  family?: number;
}

export class Server extends EventEmitter {
  /** The engine (an lws.Server); the package has its net.Server here. */
  socket: LwsServer;
  connections: Connection[];
  listen(port: number, host?: string, callback?: () => void): this;
  listen(port: number, callback?: () => void): this;
  close(callback?: () => void): void;
  on(event: 'listening' | 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'connection', listener: (conn: Connection) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export class Connection extends EventEmitter {
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
  readyState: 0 | 1 | 2 | 3;
  /** The engine's socket handle (remoteAddress, remotePort, ...); the package has its net.Socket here. */
  socket: LwsSocket;
  server: Server | null;
  outStream: Writable | null;
  path: string | null;
  headers: Record<string, string>;
  protocols: string[];
  protocol: string | undefined;
  sendText(str: string, callback?: (err?: Error) => void): boolean | undefined;
  beginBinary(): Writable | undefined;
  sendBinary(data: Buffer, callback?: (err?: Error) => void): boolean | undefined;
  send(data: string | Buffer, callback?: (err?: Error) => void): void;
  sendPing(data?: string): void;
  close(code?: number, reason?: string): void;
  on(event: 'connect', listener: () => void): this;
  on(event: 'close', listener: (code: number | undefined, reason: string | undefined) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'text', listener: (str: string) => void): this;
  on(event: 'binary', listener: (inStream: Readable) => void): this;
  on(event: 'pong', listener: (data: string) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export function createServer(callback?: (conn: Connection) => void): Server;
export function createServer(options: ServerOptions, callback?: (conn: Connection) => void): Server;
export function connect(url: string, callback?: () => void): Connection;
export function connect(url: string, options: ConnectOptions, callback?: () => void): Connection;
export function setBinaryFragmentation(bytes: number): void;
export function setMaxBufferLength(bytes: number): void;

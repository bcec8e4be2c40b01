import lws from './index.js';

export const { Server, Socket, HttpRequest, UpgradeRequest, Client } = lws;
export const { WebSocketServer, wsServer, WebSocket, createWebSocketStream } = lws;
// As ws's: `import WebSocket, { WebSocketServer } from 'lws'`.
export default lws.WebSocket;

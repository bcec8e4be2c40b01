import lws from './index.js';

export const { Server, Socket, HttpRequest, UpgradeRequest } = lws;
export const { WebSocketServer, wsServer, WebSocket, createWebSocketStream } = lws;
export default lws;

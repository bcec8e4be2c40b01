// Types of the ES module (index.mjs): the CommonJS module's, and WebSocket as the
// default export, as ws's (`import WebSocket, { WebSocketServer } from 'lws'`).
export * from './index.js';
export { WebSocket as default } from './index.js';

// A README.md snippet as TypeScript: the same lines but the import (checked by __test__/types.test.js).
import { WebSocketServer } from 'lws';
const wss = new WebSocketServer({ port: 8080 });
wss.on('connection', (ws, request) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

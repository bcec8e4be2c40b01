// A README.md snippet as TypeScript: the same lines but the import (checked by __test__/types.test.js).
import * as lws from 'lws';
const server = new lws.Server({ port: 3000 });

server.on('connection', (socket) => {
  server.setUserData(socket, { joined: Date.now() });
  server.send(socket, 'hello');                  // string, Buffer, TypedArray, ArrayBuffer
});
server.on('message', (socket, message, binary) => {
  server.send(socket, message, binary);          // `message` is valid only inside this callback
});
server.on('close', (socket, code, reason) => {
  console.log('closed', code, reason, server.getUserData(socket));
});

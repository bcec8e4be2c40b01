// A README.md snippet as TypeScript: the same lines but the import (checked by __test__/types.test.js).
import * as lws from 'lws';
const client = new lws.Client({ perMessageDeflate: true });   // lws.Server's connection options
const socket = client.connect('wss://feed.example.com/v1', { protocols: ['v1'], headers: { Authorization: 'Bearer x' } });
client.on('open', (socket, { protocol, extensions, headers }) => client.send(socket, 'subscribe'));
client.on('message', (socket, message, binary) => { /* lent: copy what you keep */ });
client.on('close', (socket, code, reason, errorCode) => {});
client.on('error', (err, socket) => {});   // e.g. ECONNREFUSED, 'Unexpected server response: 404'

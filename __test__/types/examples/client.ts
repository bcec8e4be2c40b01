// examples/client.js as TypeScript (checked by __test__/types.test.js). lws.Client: connect, send, receive, close.
//   node examples/client.js [url]       (default: the demo's ws://localhost:3000/)
import * as lws from 'lws';

const url = process.argv[2] ?? 'ws://localhost:3000/';
const client = new lws.Client();

client.connect(url);
client.on('open', (socket) => client.send(socket, 'hello from lws.Client'));
client.on('message', (socket, message, binary) => {
  // `message` is lent, as on lws.Server: copy it (Buffer.from) to keep it after this callback.
  console.log(`received: ${binary ? `${message.length} bytes` : message.toString()}`);
  client.close(socket, 1000, 'done');
});
client.on('close', (socket, code, reason) => console.log(`closed: ${code} ${reason}`));
client.on('error', (err) => {
  console.error(`cannot connect to ${url}: ${err.message}`);
  process.exitCode = 1;
});
// With no connection left, the client no longer keeps the process alive: it exits.

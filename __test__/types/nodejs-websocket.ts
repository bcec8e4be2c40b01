// lws/nodejs-websocket's types (lib/nodejs-websocket/index.d.ts): the seed README's
// programs, as code written for the package types them, and the streams API.
import * as ws from 'lws/nodejs-websocket';
import * as lws from 'lws';

const server = ws.createServer(function (conn) {
  console.log('New connection');
  conn.on('text', function (str) {
    conn.sendText(str.toUpperCase() + '!!!');
  });
  conn.on('binary', function (inStream) {
    let data = Buffer.alloc(0);
    inStream.on('readable', function () {
      const newData: Buffer | null = inStream.read();
      if (newData) data = Buffer.concat([data, newData], data.length + newData.length);
    });
    inStream.on('end', function () {
      const out = conn.beginBinary();
      if (out) out.end(data);
    });
  });
  conn.on('close', function (code, reason) {
    console.log('Connection closed', code, reason, conn.readyState === conn.CLOSED);
  });
}).listen(8001);

function broadcast(srv: ws.Server, msg: string) {
  srv.connections.forEach(function (conn) {
    conn.sendText(msg);
  });
}
broadcast(server, 'hi');
ws.setBinaryFragmentation(1024);
ws.setMaxBufferLength(1 << 20);
const secure = ws.createServer({ secure: true, key: 'k', cert: 'c', validProtocols: ['chat'] });
secure.listen(0, '127.0.0.1', () => secure.close());
const client = ws.connect('ws://localhost:8001/chat', { extraHeaders: { 'X-A': 'b' }, protocols: ['chat'] }, () => {
  client.send('hello');
  client.sendPing('p');
  client.close(1000, 'bye');
});
client.on('pong', (data: string) => console.log(data, client.protocol, client.headers['upgrade'], server.socket.port));

const core = new lws.Server({ port: 0 });
core.on('messageStream', (socket, readable, binary) => {
  readable.setEncoding('utf8');
  readable.on('data', (chunk: string) => console.log(binary, readable.binary, chunk));
  const out = core.sendStream(socket, { binary: false });
  out.end('done');
  const duplex = core.createWebSocketStream(socket);
  duplex.resume();
});

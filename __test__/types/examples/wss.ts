// examples/wss.js as TypeScript (checked by __test__/types.test.js). wss:// with a certificate: the engine itself runs TLS (rustls). For a test certificate:
//   openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 30 \
//     -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1
//   node examples/wss.js          (TLS_KEY and TLS_CERT name other files)
import * as lws from 'lws';

const server = new lws.Server({
  port: Number(process.env.PORT ?? 8443),
  ssl: { key: process.env.TLS_KEY ?? 'key.pem', cert: process.env.TLS_CERT ?? 'cert.pem' },
});

server.on('message', (socket, message, binary) => server.send(socket, message, binary));
server.on('http', (request) => request.respond(200, { 'content-type': 'text/plain' }, 'a wss:// echo server\n'));

server.on('listening', () => console.log(`wss echo: wss://localhost:${server.port}/`));
server.on('error', (err) => {
  console.error(err.message);
  process.exit(1);
});

// examples/demo.js as TypeScript (checked by __test__/types.test.js). `npm start`: an echo server on port 3000 (PORT to change it) that also
// serves, through the 'http' event, a page that talks to it.
import * as lws from 'lws';

const port = Number(process.env.PORT || 3000);
const server = new lws.Server({ port });

const page = `<!doctype html>
<meta charset="utf-8">
<title>lws demo</title>
<style>body{font:16px system-ui;margin:2em;max-width:40em}#log{white-space:pre-wrap;border:1px solid #ccc;padding:.5em;min-height:8em}</style>
<h1>lws echo</h1>
<form id="f"><input id="msg" value="hello lws" autofocus> <button>Send</button></form>
<p id="status">connecting…</p>
<div id="log"></div>
<script>
const ws = new WebSocket('ws://' + location.host + '/');
const log = (line) => { document.getElementById('log').textContent += line + '\\n'; };
ws.onopen = () => { document.getElementById('status').textContent = 'connected'; };
ws.onclose = (e) => { document.getElementById('status').textContent = 'closed (' + e.code + ')'; };
ws.onmessage = (e) => log('< ' + e.data);
document.getElementById('f').onsubmit = (e) => {
  e.preventDefault();
  const text = document.getElementById('msg').value;
  ws.send(text);
  log('> ' + text);
};
</script>
`;

server.on('http', (request) => {
  if (request.method === 'GET' && request.url === '/') {
    request.respond(200, { 'content-type': 'text/html; charset=utf-8' }, page);
  } else {
    request.respond(404, { 'content-type': 'text/plain' }, 'not found');
  }
});

server.on('connection', (socket) => {
  server.setUserData(socket, { connectedAt: Date.now() });
  server.send(socket, 'welcome to lws');
});

server.on('message', (socket, message, binary) => {
  // `message` is only valid during this callback: send() copies it.
  server.send(socket, message, binary);
});

server.on('close', (socket, code) => {
  const { connectedAt } = server.getUserData(socket);
  console.log(`connection ${server.getFd(socket)} closed with ${code} after ${Date.now() - connectedAt} ms`);
});

server.on('error', (err) => {
  console.error(`lws demo: ${err.message}`);
  process.exit(1);
});

server.on('listening', () => console.log(`lws demo: open http://localhost:${server.port}/ (echo WebSocket on ws://localhost:${server.port}/)`));

process.on('SIGINT', () => server.close(() => process.exit(0)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

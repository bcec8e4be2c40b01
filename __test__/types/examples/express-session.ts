// examples/express-session.js as TypeScript (checked by __test__/types.test.js). Express serves the pages and the login; lws.Server shares its port (the `httpServer`
// option: every connection the engine does not upgrade goes to Express) and admits a
// WebSocket only with a valid session cookie, checked in 'upgrade' before the 101.
//   node examples/express-session.js     then open http://localhost:3000/
const crypto = require('crypto');
const http = require('http');
const express = require('express');
import * as lws from 'lws';

const secret = process.env.SESSION_SECRET || crypto.randomBytes(32).toString('hex');
const sessions = new Map(); // session id -> { id, user }

// The cookie is `id.signature` (HMAC-SHA256 with the secret): a forged or altered id is refused.
// @ts-expect-error: a parameter without a type (the JavaScript example has none)
const sign = (id) => `${id}.${crypto.createHmac('sha256', secret).update(id).digest('base64url')}`;

function sessionOf(cookieHeader = '') {
  const value = /(?:^|;\s*)sid=([^;]*)/.exec(cookieHeader)?.[1] ?? '';
  const id = value.slice(0, value.lastIndexOf('.'));
  const [given, expected] = [Buffer.from(value), Buffer.from(sign(id))];
  return given.length === expected.length && crypto.timingSafeEqual(given, expected) ? sessions.get(id) : undefined;
}

// @ts-expect-error: a parameter without a type (the JavaScript example has none)
const escape = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const app = express();
app.use(express.urlencoded({ extended: false }));

// @ts-expect-error: express's handlers are untyped here (no @types/express in this repository)
app.get('/', (req, res) => {
  const session = sessionOf(req.headers.cookie);
  if (!session) {
    return res.send('<form method="post" action="/login">Name <input name="user" autofocus> <button>Log in</button></form>');
  }
  res.send(`<p>Logged in as ${escape(session.user)}. <form method="post" action="/logout"><button>Log out</button></form></p>
<pre id="log"></pre>
<script>
const ws = new WebSocket('ws://' + location.host + '/');
ws.onmessage = (e) => { document.getElementById('log').textContent += e.data + '\\n'; };
ws.onopen = () => ws.send('hello');
</script>`);
});

// @ts-expect-error: express's handlers are untyped here (no @types/express in this repository)
app.post('/login', (req, res) => {
  const user = String(req.body.user ?? '').trim();
  if (!user) return res.status(400).send('a name, please');
  const id = crypto.randomUUID();
  sessions.set(id, { id, user });
  res.cookie('sid', sign(id), { httpOnly: true, sameSite: 'lax' });
  res.redirect(303, '/');
});

// @ts-expect-error: express's handlers are untyped here (no @types/express in this repository)
app.post('/logout', (req, res) => {
  sessions.delete(sessionOf(req.headers.cookie)?.id);
  res.clearCookie('sid').redirect(303, '/');
});

const server = new lws.Server({ port: Number(process.env.PORT ?? 3000), httpServer: http.createServer(app) });

server.on('upgrade', (socket, headers) => {
  const session = sessionOf(headers.cookie);
  if (!session) return 401; // refused with 401 before the handshake completes
  server.setUserData(socket, session);
});

server.on('connection', (socket) => server.send(socket, `welcome, ${server.getUserData(socket).user}`));

server.on('message', (socket, message) => {
  server.send(socket, `${server.getUserData(socket).user}: ${message}`);
});

server.on('listening', () => console.log(`express + lws: open http://localhost:${server.port}/`));
server.on('error', (err) => {
  console.error(err.message);
  process.exit(1);
});

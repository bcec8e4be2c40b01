'use strict';
// Every program in examples/ runs as a user runs it (`node examples/NAME.js`, in a child
// process, PORT=0) and is driven by real clients: ws, Node's http, openssl's certificates.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const WebSocket = require('ws');
const { within, once, opened, closed } = require('./helpers/wait');

const examples = path.join(__dirname, '..', 'examples');

/** Runs examples/NAME.js; resolves once it prints its localhost URL. */
async function start(t, name, { env = {}, cwd } = {}) {
  const child = spawn(process.execPath, [path.join(examples, name)], {
    cwd, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = { child, stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d) => { run.stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { run.stderr += d; });
  run.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => child.kill('SIGKILL'));
  run.port = Number(await within(10000, `${name} to listen`, (resolve, reject) => {
    child.stdout.on('data', () => {
      const m = /localhost:(\d+)/.exec(run.stdout);
      if (m) resolve(m[1]);
    });
    run.exited.then(({ code }) => reject(new Error(`${name} exited with ${code}: ${run.stderr}`)));
  }));
  return run;
}

/** A plain HTTP request: `{ status, headers, body }`. */
function request(port, { method = 'GET', path: p = '/', headers = {}, body } = {}) {
  return within(5000, `${method} ${p}`, (resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => { text += d; }).on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Resolves with the HTTP status a refused WebSocket handshake got. */
function refusedWith(ws) {
  return within(5000, 'the refusal', (resolve, reject) => {
    ws.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
    ws.on('open', () => reject(new Error('the handshake was accepted')));
    ws.on('error', () => {});
  });
}

const nextMessage = (ws) => once(ws, 'message').then(([data]) => data.toString());

test('demo.js: the page, and a WebSocket that opens and closes cleanly', async (t) => {
  const { port } = await start(t, 'demo.js');
  const page = await request(port);
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.match(page.body, /WebSocket/);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  await opened(ws);
  ws.close(1000);
  assert.equal((await closed(ws)).code, 1000);
});

test('express-session.js: no WebSocket without a valid session cookie; with one, the user is known', async (t) => {
  const { port } = await start(t, 'express-session.js');
  const url = `ws://127.0.0.1:${port}/`;

  assert.match((await request(port)).body, /action="\/login"/);
  assert.equal(await refusedWith(new WebSocket(url)), 401);

  const login = await request(port, {
    method: 'POST', path: '/login', body: 'user=alice', headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(login.status, 303);
  const cookie = login.headers['set-cookie'][0].split(';')[0];
  assert.match(cookie, /^sid=[\w-]+\.[\w-]+$/);
  assert.match((await request(port, { headers: { cookie } })).body, /Logged in as alice/);

  // Altered cookies (another id, another signature) are refused like a missing one.
  const [id, signature] = cookie.slice('sid='.length).split('.');
  const alter = (text) => (text[0] === 'a' ? 'b' : 'a') + text.slice(1);
  for (const forged of [`sid=${alter(id)}.${signature}`, `sid=${id}.${alter(signature)}`, 'sid=alice', `sid=${id}`]) {
    assert.equal(await refusedWith(new WebSocket(url, { headers: { cookie: forged } })), 401, forged);
  }

  const ws = new WebSocket(url, { headers: { cookie: `theme=dark; ${cookie}` } });
  const welcome = nextMessage(ws);
  await opened(ws);
  assert.equal(await welcome, 'welcome, alice');
  ws.send('hi');
  assert.equal(await nextMessage(ws), 'alice: hi');
  ws.close();
  await closed(ws);

  const logout = await request(port, { method: 'POST', path: '/logout', headers: { cookie } });
  assert.equal(logout.status, 303);
  assert.equal(await refusedWith(new WebSocket(url, { headers: { cookie } })), 401, 'the session ended at logout');
});

test('wss.js: TLS with a certificate made by openssl', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-example-wss-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { cwd: dir, stdio: 'pipe' });
  const { port } = await start(t, 'wss.js', { cwd: dir }); // key.pem and cert.pem in the working directory
  const ca = fs.readFileSync(path.join(dir, 'cert.pem'));

  const ws = new WebSocket(`wss://localhost:${port}/`, { ca });
  await opened(ws);
  ws.send('over TLS');
  assert.equal(await nextMessage(ws), 'over TLS');
  ws.send(Buffer.from([1, 2, 3]));
  const [data, isBinary] = await once(ws, 'message');
  assert.deepEqual([...data], [1, 2, 3]);
  assert.equal(isBinary, true);
  ws.close(1000);
  assert.equal((await closed(ws)).code, 1000);

  // Without the certificate as a trusted CA, the client refuses the server (it is real TLS).
  const untrusting = new WebSocket(`wss://localhost:${port}/`);
  const [err] = await once(untrusting, 'error');
  assert.equal(err.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
});

// Windows has no SIGTERM to catch (child.kill() ends the process there); the prebuild workflow runs this file on it.
test('graceful-shutdown.js: SIGTERM closes every client with 1001, frees the port, exits 0', { skip: process.platform === 'win32' && 'no SIGTERM on Windows' }, async (t) => {
  const run = await start(t, 'graceful-shutdown.js');
  const url = `ws://127.0.0.1:${run.port}/`;
  const clients = [new WebSocket(url), new WebSocket(url), new WebSocket(url)];
  await Promise.all(clients.map((ws) => opened(ws)));
  for (const ws of clients) ws.send('still here');
  await Promise.all(clients.map(async (ws) => assert.equal(await nextMessage(ws), 'still here')));

  const ends = clients.map((ws) => closed(ws, 10000));
  run.child.kill('SIGTERM');
  for (const end of ends) assert.equal((await end).code, 1001);
  assert.deepEqual(await within(10000, 'the exit', (resolve) => run.exited.then(resolve)), { code: 0, signal: null });
  assert.match(run.stdout, /SIGTERM: shutting down/);
  const late = new WebSocket(url);
  const [err] = await once(late, 'error');
  assert.equal(err.code, 'ECONNREFUSED');
});

test('client.js: lws.Client connects to a ws server, sends, receives, closes with 1000, exits 0', async (t) => {
  const wss = new WebSocket.Server({ host: '127.0.0.1', port: 0 });
  t.after(() => wss.close());
  await once(wss, 'listening');
  const seen = [];
  const serverSide = within(10000, "the server's close", (resolve) => {
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => { seen.push(data.toString()); ws.send(`echo: ${data}`, { binary: isBinary }); });
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  });

  const child = spawn(process.execPath, [path.join(examples, 'client.js'), `ws://127.0.0.1:${wss.address().port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const [code] = await once(child, 'exit', 10000);
  assert.equal(code, 0, stderr);
  assert.deepEqual(await serverSide, { code: 1000, reason: 'done' });
  assert.deepEqual(seen, ['hello from lws.Client']);
  assert.equal(stdout, 'received: echo: hello from lws.Client\nclosed: 1000 done\n');
});

test('client.js: a refused connection is reported, exit code 1', async (t) => {
  const free = http.createServer();
  await new Promise((resolve) => free.listen(0, '127.0.0.1', resolve));
  const { port } = free.address();
  await new Promise((resolve) => free.close(resolve)); // nothing listens there now
  const child = spawn(process.execPath, [path.join(examples, 'client.js'), `ws://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const [code] = await once(child, 'exit', 10000);
  assert.equal(code, 1);
  assert.match(stderr, /cannot connect to ws:\/\/127\.0\.0\.1:\d+\/: .*ECONNREFUSED/);
});

test('streams.js: an upload hashed as it streams, and a download sent as one streamed message', async (t) => {
  const { port } = await start(t, 'streams.js');
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  await opened(ws);
  const upload = Buffer.alloc(3 * 1024 * 1024, 7);
  ws.send(upload);
  const [answer] = await once(ws, 'message');
  const sha = require('crypto').createHash('sha256').update(upload).digest('hex');
  assert.equal(answer.toString(), `${upload.length} bytes, sha256 ${sha}`);
  ws.send('download 1000000');
  const [download, isBinary] = await once(ws, 'message');
  assert.equal(isBinary, true);
  assert.ok(download.equals(Buffer.alloc(1000000, 42)));
  ws.close();
  await closed(ws);
});

'use strict';
// A real browser as the peer: headless Chromium (Debian's `chromium` package) loads a
// page from an lws server and talks to it over WebSockets: permessage-deflate as
// Chromium offers it, UTF-8 text, 300 KB binary, 1 MB text, ordering, and close
// handshakes both ways. The page reports its findings over a WebSocket.
//
// A second page sends messages and closes at once, and has servers send and close,
// against lws.WebSocketServer, lws.Server and ws (the reference).
//
// Without chromium the tests are skipped with a note, unless LWS_REQUIRE_BROWSER=1
// (.ci/run installs chromium and sets it, so CI always runs them).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const lws = require('..');
const { within, once, waitUntil } = require('./helpers/wait');

function findChromium() {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

const chromium = findChromium();
const required = process.env.LWS_REQUIRE_BROWSER === '1';

/** False (the test skipped or failed) when there is no browser. */
function haveChromium(t) {
  if (chromium) return true;
  if (required) assert.fail('LWS_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)');
  t.skip('chromium is not installed (apt-get install chromium); CI installs it');
  return false;
}

/**
 * Opens `url` in headless Chromium and waits (45 s at most) until `ready()` is true.
 * After the test the browser's process group (it and its helper processes) is killed
 * and its profile removed.
 */
async function browse(t, url, ready, what) {
  const profile = fs.mkdtempSync('/tmp/lws-chromium-');
  const browser = spawn(chromium, [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions',
    '--disable-dev-shm-usage', `--user-data-dir=${profile}`, url,
  ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  browser.stderr.on('data', (d) => { stderr = (stderr + d).slice(-3000); });
  const exited = new Promise((r) => browser.once('exit', r));
  t.after(async () => {
    try {
      process.kill(-browser.pid, 'SIGKILL'); // the helpers would go on writing to the profile
    } catch {
      browser.kill('SIGKILL');
    }
    await exited;
    try {
      fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    } catch (err) {
      t.diagnostic(`could not remove ${profile}: ${err.message}`);
    }
  });
  let waiting = true;
  try {
    await within(45000, what, (done, fail) => {
      browser.once('exit', (code) => { if (!ready()) fail(new Error(`chromium exited (${code}) before ${what}\n${stderr}`)); });
      const check = () => {
        if (ready()) done();
        else if (waiting) setTimeout(check, 50);
      };
      check();
    });
  } finally {
    waiting = false;
  }
}

test('headless Chromium: deflate, text, binary, 1 MB, ordering, close both ways', { timeout: 60000 }, async (t) => {
  if (!haveChromium(t)) return;
  const page = fs.readFileSync(path.join(__dirname, 'fixtures', 'browser-page.html'));
  const server = new lws.Server({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
  const closes = [];
  let report = null;
  server.on('http', (req) => req.respond(200, { 'content-type': 'text/html; charset=utf-8' }, page));
  server.on('upgrade', (socket, headers, request) => {
    server.setUserData(socket, request.url);
  });
  server.on('connection', (socket) => {
    if (server.getUserData(socket) === '/close-me') server.close(socket, 1000, 'server says bye');
  });
  server.on('message', (socket, message, binary) => {
    if (server.getUserData(socket) === '/report') report = JSON.parse(Buffer.from(message).toString());
    else server.send(socket, message, binary);
  });
  server.on('close', (socket, code, reason) => closes.push({ path: server.getUserData(socket), code, reason }));
  await once(server, 'listening');
  t.after(() => new Promise((r) => server.close(r)));

  await browse(t, `http://127.0.0.1:${server.port}/`, () => report, "the page's report");
  t.diagnostic(`${report.userAgent}; extensions: ${report.extensions}`);
  assert.equal(report.error, undefined, `the page failed: ${report.error}`);
  assert.match(report.extensions, /^permessage-deflate/, 'Chromium negotiated permessage-deflate');
  assert.equal(report.text, true, 'UTF-8 text echoed');
  assert.equal(report.binary300k, true, '300 KB binary echoed byte for byte');
  assert.equal(report.text1m, true, '1 MB text echoed');
  assert.equal(report.ordered200, true, '200 messages came back in order');
  assert.deepEqual(report.clientClose, { code: 4001, reason: 'bye from chromium', wasClean: true }, 'our close frame echoes the code and the reason (as ws does)');
  assert.deepEqual(report.serverClose, { code: 1000, reason: 'server says bye', wasClean: true });
  const echoClose = closes.find((c) => c.path === '/echo');
  assert.deepEqual(echoClose, { path: '/echo', code: 4001, reason: 'bye from chromium' });
});

// The page sends messages and closes at once with (4000, 'bye'); the server sends
// messages and closes with (4001, 'done'). ws echoes the peer's close code and reason,
// and answers a close only after what its listeners sent for the messages before it.
// Chromium does not deliver messages that arrive after the page called close()
// (readyState CLOSING; with ws too, the page sees no echo): what the page can show of
// the echoes is that none comes out of order or after its close event; the server side
// shows that every message came before the close. Each server is a subtest; ws's own
// server runs the same page first, as the reference.
test('headless Chromium: messages then close(4000, "bye") from the page, and messages then close(4001, "done") from the server, on lws.WebSocketServer and lws.Server (ws as the reference)', { timeout: 60000 }, async (t) => {
  if (!haveChromium(t)) return;
  const TEXTS = ['c0', 'c1', 'c2', 'c3', 'c4'];
  const SERVER_TEXTS = ['s0', 's1', 's2', 's3', 's4'];
  const BINARY_LENGTH = 2000;
  const pattern = Buffer.from(Uint8Array.from({ length: BINARY_LENGTH }, (_, i) => (i * 7) & 255));
  const describe = (data, isBinary) => {
    if (!isBinary) return Buffer.from(data).toString();
    const b = Buffer.from(data);
    return `binary ${b.length}${b.equals(pattern) ? '' : ' corrupt'}`;
  };

  // What each server saw, by path: messages described as the page describes them, then 'close <code> <reason>'.
  const seen = {};
  const note = (name, url, entry) => {
    const pathname = url.split('?')[0];
    ((seen[name] ||= {})[pathname] ||= []).push(entry);
  };

  /** ws and lws.WebSocketServer: the same listener. */
  const wsLike = (name, wss) => {
    wss.on('connection', (ws, request) => {
      const url = request.url;
      ws.on('close', (code, reason) => note(name, url, `close ${code} ${reason.toString()}`));
      if (url.startsWith('/server-closes')) {
        for (const text of SERVER_TEXTS) ws.send(text);
        ws.send(pattern, { binary: true });
        ws.close(4001, 'done');
      } else {
        ws.on('message', (data, isBinary) => {
          note(name, url, describe(data, isBinary));
          ws.send(data, { binary: isBinary });
        });
      }
    });
    t.after(() => new Promise((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(() => resolve());
    }));
    return once(wss, 'listening').then(() => wss.address().port);
  };

  const { WebSocketServer: ReferenceServer } = require('ws');
  const ports = {};
  ports.ws = await wsLike('ws', new ReferenceServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true }));
  ports['lws.WebSocketServer'] = await wsLike('lws.WebSocketServer', new lws.WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true }));

  const server = new lws.Server({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
  server.on('upgrade', (socket, headers, request) => server.setUserData(socket, request.url));
  server.on('connection', (socket) => {
    if (!server.getUserData(socket).startsWith('/server-closes')) return;
    for (const text of SERVER_TEXTS) server.send(socket, text);
    server.send(socket, pattern, true);
    server.close(socket, 4001, 'done');
  });
  server.on('message', (socket, message, binary) => {
    note('lws.Server', server.getUserData(socket), describe(message, binary));
    server.send(socket, message, binary);
  });
  server.on('close', (socket, code, reason) => note('lws.Server', server.getUserData(socket), `close ${code} ${reason}`));
  await once(server, 'listening');
  t.after(() => new Promise((r) => server.close(r)));
  ports['lws.Server'] = server.port;

  // The page and its report travel over plain HTTP (node's own server).
  const pageHtml = fs.readFileSync(path.join(__dirname, 'fixtures', 'browser-close-page.html'));
  let report = null;
  const web = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/report') {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        report = JSON.parse(body);
        res.end();
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(pageHtml);
  });
  await within(5000, 'http listening', (done) => web.listen(0, '127.0.0.1', done));
  t.after(() => new Promise((r) => {
    web.closeAllConnections();
    web.close(() => r());
  }));

  const query = new URLSearchParams(Object.entries(ports)).toString();
  await browse(t, `http://127.0.0.1:${web.address().port}/?${query}`, () => report, "the close page's report");
  t.diagnostic(report.userAgent);
  assert.equal(report.results.error, undefined, `the page failed: ${report.results.error}`);
  // The servers' 'close' events may follow the browser's by a moment.
  await waitUntil(() => Object.keys(ports).every((name) => ['/page-closes', '/server-closes']
    .every((p) => (seen[name]?.[p] || []).some((e) => e.startsWith('close ')))), 5000, "every server's close events")
    .catch(() => {}); // what is missing shows in the assertions below

  for (const name of Object.keys(ports)) {
    await t.test(name === 'ws' ? 'ws (the reference)' : name, () => {
      const { pageCloses, serverCloses } = report.results[name];
      const sent = [...TEXTS, `binary ${BINARY_LENGTH}`];
      // The page closed right after sending: Chromium delivers no message after close(),
      // so between 'open' and the close event there can only be echoes that came, in
      // order, before it (with ws: none).
      const echoes = pageCloses.slice(1, -1);
      const actual = {
        pageCloses: { first: pageCloses[0], echoes, closeEvent: pageCloses.at(-1) },
        serverSideOfPageCloses: seen[name]?.['/page-closes'],
        serverCloses,
        serverSideOfServerCloses: seen[name]?.['/server-closes'],
      };
      const expected = {
        // the page's CloseEvent: its own code and reason echoed, a clean close
        pageCloses: { first: 'open', echoes: sent.slice(0, echoes.length), closeEvent: { code: 4000, reason: 'bye', wasClean: true } },
        // every message, in order, then the close with the page's code and reason
        serverSideOfPageCloses: [...sent, 'close 4000 bye'],
        // every message the server sent, then its code and reason, a clean close
        serverCloses: ['open', ...SERVER_TEXTS, `binary ${BINARY_LENGTH}`, { code: 4001, reason: 'done', wasClean: true }],
        // the code and reason Chromium echoed
        serverSideOfServerCloses: ['close 4001 done'],
      };
      assert.deepEqual(actual, expected, `${name}: what the page and the server saw, as ws does`);
    });
  }
});

test('npm start: the chat demo in two Chromium pages, a room on pub/sub, and the live line', { timeout: 90000 }, async (t) => {
  if (!haveChromium(t)) return;
  const net = require('node:net');
  const WebSocket = require('ws');
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const demo = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'demo.js')], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    demo.kill('SIGTERM');
    return new Promise((resolve) => demo.once('exit', resolve));
  });
  await within(10000, 'the demo listening', (done) => demo.stdout.on('data', (d) => { if (String(d).includes('lws chat')) done(); }));

  // The test's own member of #general. It joins before the pages open; each page says
  // "hi" once it has joined (&say), so once the observer has heard both, both are in the
  // room and its hello reaches them. (Waiting for the live line to count 3 connections
  // raced: a page is counted when it connects, before its join arrives.)
  const observer = new WebSocket(`ws://127.0.0.1:${port}/`);
  const said = [];
  let live = null;
  let greeted = false;
  let joined;
  const observerJoined = new Promise((resolve) => { joined = resolve; });
  observer.on('message', (data) => {
    const m = JSON.parse(data);
    if (m.type === 'rooms') observer.send(JSON.stringify({ type: 'join', room: 'general', name: 'observer' }));
    if (m.type === 'joined') joined();
    if (m.type === 'message') {
      said.push(`${m.from}: ${m.text}`);
      if (!greeted && said.includes('alice: hi') && said.includes('bob: hi')) {
        greeted = true;
        observer.send(JSON.stringify({ type: 'say', text: 'hello everyone' }));
      }
    }
    if (m.type === 'stats') live = m;
  });
  t.after(() => observer.close());
  await within(10000, 'the observer joining #general', (done) => observerJoined.then(done));
  const base = `http://127.0.0.1:${port}/?room=general&ack=1&say=hi`;
  // Each page acks the first message from each other member: the later of the two to
  // join has its "hi" heard by the earlier one, whose ack the later one answers in turn.
  const everyoneSawEveryone = () => ['alice: alice saw observer', 'bob: bob saw observer', 'alice: alice saw bob', 'bob: bob saw alice']
    .every((line) => said.includes(line)) && live?.connections >= 3;
  await Promise.all([
    browse(t, `${base}&name=alice`, everyoneSawEveryone, 'alice and bob seeing each other'),
    browse(t, `${base}&name=bob`, everyoneSawEveryone, 'alice and bob seeing each other'),
  ]);
  const hello = said.indexOf('observer: hello everyone');
  assert.ok(hello >= 0 && hello < said.indexOf('alice: alice saw observer') && hello < said.indexOf('bob: bob saw observer'), said.join('\n'));
  assert.ok(live.connections >= 3, `the live line counts the pages: ${JSON.stringify(live)}`);
  assert.equal(typeof live.messagesPerSecond, 'number');
});

// lws/nodejs-websocket (issue 15) with the browser as the client: the seed README's scream
// server and binary collector, answering; the page reports over a second connection.
test('headless Chromium against lws/nodejs-websocket: text, 300 KB binary, close with a code and reason', { timeout: 60000 }, async (t) => {
  if (!haveChromium(t)) return;
  const nws = require('../lib/nodejs-websocket');
  const closes = [];
  let report = null;
  const server = nws.createServer((conn) => {
    conn.on('text', (str) => {
      if (conn.path === '/report') report = JSON.parse(str);
      else conn.sendText(`${str.toUpperCase()}!!!`);
    });
    conn.on('binary', (inStream) => {
      const parts = [];
      inStream.on('data', (d) => parts.push(d));
      inStream.on('end', () => conn.sendBinary(Buffer.concat(parts)));
    });
    conn.on('close', (code, reason) => closes.push([conn.path, code, reason]));
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((r) => {
    for (const conn of server.connections) conn.close(1001);
    server.close(r);
  }));
  const origin = `ws://127.0.0.1:${server.socket.address().port}`;
  const page = `<script>
const out = {};
const ws = new WebSocket('${origin}/scream');
ws.binaryType = 'arraybuffer';
const sent = new Uint8Array(300000).map((_, i) => (i * 7) & 255);
ws.onopen = () => ws.send('hi');
ws.onmessage = (e) => {
  if (typeof e.data === 'string') { out.text = e.data; ws.send(sent); return; }
  const got = new Uint8Array(e.data);
  out.binary = got.length === sent.length && got.every((b, i) => b === sent[i]);
  ws.close(4000, 'bye');
};
ws.onclose = (e) => {
  out.close = [e.code, e.reason, e.wasClean];
  const r = new WebSocket('${origin}/report');
  r.onopen = () => r.send(JSON.stringify(out));
};
</script>`;
  // The nodejs-websocket server speaks only WebSocket: the page comes from a plain http server.
  const pages = http.createServer((req, res) => res.end(page));
  await within(5000, 'the page server', (done) => pages.listen(0, '127.0.0.1', done));
  t.after(() => new Promise((r) => { pages.closeAllConnections(); pages.close(r); }));
  await browse(t, `http://127.0.0.1:${pages.address().port}/`, () => report, "the page's report");
  assert.deepEqual(report, { text: 'HI!!!', binary: true, close: [4000, 'bye', true] });
  assert.deepEqual(closes.find((c) => c[0] === '/scream'), ['/scream', 4000, 'bye']);
});

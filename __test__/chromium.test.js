'use strict';
// A real browser as the peer: headless Chromium (Debian's `chromium` package) loads a
// page from an lws server and talks to it over WebSockets: permessage-deflate as
// Chromium offers it, UTF-8 text, 300 KB binary, 1 MB text, ordering, and close
// handshakes both ways. The page reports its findings over a WebSocket.
//
// Without chromium the test is skipped with a note, unless LWS_REQUIRE_BROWSER=1
// (.ci/run installs chromium and sets it, so CI always runs it).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const lws = require('..');
const { within, once } = require('./helpers/wait');

function findChromium() {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

const chromium = findChromium();
const required = process.env.LWS_REQUIRE_BROWSER === '1';

test('headless Chromium: deflate, text, binary, 1 MB, ordering, close both ways', { timeout: 60000 }, async (t) => {
  if (!chromium) {
    if (required) assert.fail('LWS_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)');
    t.skip('chromium is not installed (apt-get install chromium); CI installs it');
    return;
  }
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

  const profile = fs.mkdtempSync('/tmp/lws-chromium-');
  const browser = spawn(chromium, [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions',
    '--disable-dev-shm-usage', `--user-data-dir=${profile}`, `http://127.0.0.1:${server.port}/`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  browser.stderr.on('data', (d) => { stderr = (stderr + d).slice(-3000); });
  const exited = new Promise((r) => browser.once('exit', r));
  t.after(async () => {
    browser.kill('SIGKILL');
    await exited;
    fs.rmSync(profile, { recursive: true, force: true });
  });

  await within(45000, 'the page\'s report', (done, fail) => {
    browser.once('exit', (code) => { if (!report) fail(new Error(`chromium exited (${code}) before reporting\n${stderr}`)); });
    const check = () => (report ? done() : setTimeout(check, 50));
    check();
  });
  t.diagnostic(`${report.userAgent}; extensions: ${report.extensions}`);
  assert.equal(report.error, undefined, `the page failed: ${report.error}`);
  assert.match(report.extensions, /^permessage-deflate/, 'Chromium negotiated permessage-deflate');
  assert.equal(report.text, true, 'UTF-8 text echoed');
  assert.equal(report.binary300k, true, '300 KB binary echoed byte for byte');
  assert.equal(report.text1m, true, '1 MB text echoed');
  assert.equal(report.ordered200, true, '200 messages came back in order');
  assert.deepEqual(report.clientClose, { code: 4001, reason: '', wasClean: true }, 'our close frame echoes the code');
  assert.deepEqual(report.serverClose, { code: 1000, reason: 'server says bye', wasClean: true });
  const echoClose = closes.find((c) => c.path === '/echo');
  assert.deepEqual(echoClose, { path: '/echo', code: 4001, reason: 'bye from chromium' });
});

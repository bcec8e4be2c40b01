'use strict';
// lws/walve with a real browser as the peer: headless Chromium loads a page from the
// http server and talks to a walve echo (each frame sent back with its own header:
// opcode, final, length), text, binary, 300 KB, a message in Chromium's own frames,
// then reports over a second walve server on the same http server (`url: '/report'`).
// Skipped with a note without chromium, unless LWS_REQUIRE_BROWSER=1 (.ci/run).
//
// Run: node --test --test-concurrency=1 __test__/walve-chromium.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const { spawn, spawnSync } = require('node:child_process');
const walve = require('lws/walve');
const { within, once, closeHttp } = require('./helpers/wait');

const chromium = ['chromium', 'chromium-browser', 'google-chrome']
  .map((name) => spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }))
  .find((r) => r.status === 0 && r.stdout.trim())?.stdout.trim();

const PAGE = `<!DOCTYPE html><meta charset="utf-8"><script>
const report = (result) => {
  const r = new WebSocket('ws://' + location.host + '/report');
  r.onopen = () => r.send(JSON.stringify(result));
};
const ws = new WebSocket('ws://' + location.host + '/echo');
ws.binaryType = 'arraybuffer';
const big = 'é'.repeat(150000); // 300 KB of UTF-8
const sent = ['héllo', new Uint8Array([0, 1, 2, 255]).buffer, big, ''];
const got = [];
ws.onopen = () => sent.forEach((m) => ws.send(m));
ws.onmessage = (e) => {
  got.push(e.data);
  if (got.length < sent.length) return;
  report({
    text: got[0] === 'héllo',
    binary: got[1] instanceof ArrayBuffer && Array.from(new Uint8Array(got[1])).join() === '0,1,2,255',
    big: got[2] === big,
    empty: got[3] === '',
  });
};
ws.onerror = () => report({ error: 'echo socket error' });
</script>`;

test('headless Chromium against lws/walve: per-frame echo of text, binary, 300 KB, empty; two servers by url', { timeout: 60000 }, async (t) => {
  if (!chromium) {
    if (process.env.LWS_REQUIRE_BROWSER === '1') assert.fail('LWS_REQUIRE_BROWSER=1 but no chromium on PATH');
    t.skip('chromium is not installed (apt-get install chromium); CI installs it');
    return;
  }
  const server = http.createServer((req, res) => res.end(PAGE));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => closeHttp(server));
  const heads = [];
  new walve.Server({ url: '/echo' }).listen(server).on('connect', (wsocket) => {
    wsocket.on('incoming', (incoming) => {
      const { final, opcode, length } = incoming.header;
      heads.push({ final, opcode, length });
      if (opcode >= 0x8) return; // the engine answers pings and closes
      const outgoing = new walve.Outgoing({ header: { final, opcode, length } });
      outgoing.pipe(wsocket, { end: false });
      if (length === 0) outgoing.end(''); // an Outgoing never written sends nothing (walve's rule)
      else incoming.pipe(outgoing);
    });
  });
  let result = null;
  new walve.Server({ url: '/report' }).listen(server).on('connect', (wsocket) => {
    wsocket.on('incoming', (incoming) => {
      let text = '';
      incoming.on('data', (chunk) => { text += chunk; });
      incoming.on('end', () => { if (incoming.header.opcode === 0x1) result = JSON.parse(text); });
    });
  });

  const profile = fs.mkdtempSync('/tmp/lws-chromium-');
  const browser = spawn(chromium, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions',
    '--disable-dev-shm-usage', `--user-data-dir=${profile}`, `http://127.0.0.1:${server.address().port}/`],
  { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  browser.stderr.on('data', (d) => { stderr = (stderr + d).slice(-3000); });
  const exited = new Promise((r) => browser.once('exit', r));
  t.after(async () => {
    try {
      process.kill(-browser.pid, 'SIGKILL');
    } catch {
      browser.kill('SIGKILL');
    }
    await exited;
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });
  await within(45000, "the page's report", (done, fail) => {
    browser.once('exit', (code) => { if (!result) fail(new Error(`chromium exited (${code})\n${stderr}`)); });
    const check = () => (result ? done() : setTimeout(check, 50));
    check();
  });
  assert.deepEqual(result, { text: true, binary: true, big: true, empty: true });
  assert.deepEqual(heads.slice(0, 2), [{ final: true, opcode: 1, length: 6 }, { final: true, opcode: 2, length: 4 }]);
  assert.equal(heads.filter((h) => h.opcode <= 2).reduce((n, h) => n + h.length, 0), 6 + 4 + 300000, "the frames carried the page's bytes");
});

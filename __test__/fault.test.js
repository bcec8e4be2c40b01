'use strict';
// A bug in the engine (a Rust panic) must cost one socket, never the process:
// the panic is caught, that socket is closed with 1011 and JS is told on 'error'
// and 'close'. The engine's fault injection (LWS_TEST_PANIC_ON) makes the panic
// happen on the receive path (a client sends the trigger) and the send path (JS
// sends it), while other clients keep echoing.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const readline = require('readline');
const { spawn } = require('child_process');
const crypto = require('crypto');
const net = require('net');
const WebSocket = require('ws');
const { within, once, opened, closed, inbox, sleep, waitUntil } = require('./helpers/wait');

const TRIGGER = 'lws-test-panic-7f3a';

/** Starts fixtures/panic-server.js; `lines` collects what it prints. */
async function startServer(t, mode) {
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'panic-server.js'), mode], {
    env: { ...process.env, LWS_TEST_PANIC_ON: TRIGGER },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l)));
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  t.after(async () => {
    child.stdin.end();
    await within(5000, 'server exit', (done) => exited.then(done));
  });
  let dead = false;
  exited.then(() => { dead = true; });
  const { port } = await within(10000, 'server port', (done, fail) => {
    const deadline = Date.now() + 10000;
    const check = () => {
      const found = lines.find((l) => l.port);
      if (found) return done(found);
      // A fixture that died first (e.g. no fault-injection build: `node scripts/build.js --fault-injection`) says why.
      if (dead) return fail(new Error(`panic-server exited before listening: ${stderr.slice(0, 600)}`));
      if (Date.now() < deadline) setTimeout(check, 10);
    };
    check();
  });
  return { port, lines, child, stderr: () => stderr, exited };
}

/** `count` clients echoing, to show the others are unaffected. */
async function bystanders(port, count) {
  const clients = await Promise.all(
    Array.from({ length: count }, () => opened(new WebSocket(`ws://127.0.0.1:${port}`))),
  );
  return {
    clients,
    async echoAll(round) {
      await Promise.all(
        clients.map(async (ws, i) => {
          const box = inbox(ws);
          ws.send(`bystander ${i} round ${round}`);
          assert.equal(String((await box.next()).data), `bystander ${i} round ${round}`);
          ws.removeAllListeners('message');
        }),
      );
    },
    closeAll: () => Promise.all(clients.map((ws) => (ws.close(), closed(ws)))),
  };
}

async function panicsOnce(port, message) {
  const victim = await opened(new WebSocket(`ws://127.0.0.1:${port}`));
  victim.on('error', () => {});
  const box = inbox(victim);
  victim.send('before');
  assert.equal(String((await box.next()).data), 'before');
  const end = closed(victim);
  victim.send(message);
  return end;
}

for (const [name, message] of [['receiving', TRIGGER], ['sending', 'say-trigger']]) {
  test(`a panic while ${name} closes that socket with 1011 and nothing else`, { timeout: 30000 }, async (t) => {
    const server = await startServer(t, 'core');
    const others = await bystanders(server.port, 20);
    await others.echoAll(1);
    const { code, reason } = await panicsOnce(server.port, message);
    assert.equal(code, 1011);
    assert.equal(reason, 'internal error');
    await others.echoAll(2); // the rest of the server goes on
    const again = await panicsOnce(server.port, message); // and it can happen again
    assert.equal(again.code, 1011);
    await others.echoAll(3);
    await others.closeAll();
    await waitUntil(() => server.lines.filter((l) => l.close === 1011).length === 2, 5000, 'two 1011 close events');
    const errors = server.lines.filter((l) => l.error);
    assert.deepEqual(errors, [{ error: 'LWS_ERR_INTERNAL', hasSocket: true }, { error: 'LWS_ERR_INTERNAL', hasSocket: true }]);
    const internal = server.lines.filter((l) => l.close === 1011);
    assert.equal(internal.length, 2);
    for (const c of internal) assert.equal(c.errorCode, 'LWS_ERR_INTERNAL');
    await waitUntil(() => server.lines.filter((l) => l.close === 1005).length === 20, 5000, 'the bystanders\' normal close (no code: 1005)');
    assert.equal(server.child.exitCode, null, 'the process is alive');
    assert.match(server.stderr(), /injected panic/, 'the panic message reaches stderr');
  });
}

test('a long message read together with the trigger reaches JS intact before the 1011', { timeout: 30000 }, async (t) => {
  // Both frames go in one TCP write, so the engine reads them in one go: the long one
  // is lent to JS in place (MESSAGE_AT), then the trigger panics in the same read.
  const server = await startServer(t, 'core');
  const sock = net.connect(server.port, '127.0.0.1');
  t.after(() => sock.destroy());
  await once(sock, 'connect');
  sock.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  let received = Buffer.alloc(0);
  sock.on('data', (d) => { received = Buffer.concat([received, d]); });
  await waitUntil(() => received.includes('\r\n\r\n'), 5000, 'the 101 answer');
  const long = crypto.randomBytes(5000);
  sock.write(Buffer.concat([maskedFrame(2, long), maskedFrame(1, Buffer.from(TRIGGER))]));
  await waitUntil(() => server.lines.some((l) => l.close === 1011), 5000, 'the 1011 close event');
  const seen = server.lines.filter((l) => l.long);
  assert.deepEqual(seen, [{ long: 5000, sha1: crypto.createHash('sha1').update(long).digest('hex') }]);
});

/** A masked client frame (FIN set), payload under 64 KiB. */
function maskedFrame(opcode, payload) {
  const mask = crypto.randomBytes(4);
  const head = payload.length < 126
    ? Buffer.from([0x80 | opcode, 0x80 | payload.length])
    : Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 255]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]));
  return Buffer.concat([head, mask, body]);
}

test('with no error listener the panic becomes a process warning, not an exception', { timeout: 30000 }, async (t) => {
  const server = await startServer(t, 'core-no-error-listener');
  const { code } = await panicsOnce(server.port, TRIGGER);
  assert.equal(code, 1011);
  const warning = await within(5000, 'warning', (done) => {
    const check = () => {
      const w = server.lines.find((l) => l.warning);
      return w ? done(w) : setTimeout(check, 10);
    };
    check();
  });
  assert.equal(warning.warning, 'LWS_ERR_INTERNAL');
  const others = await bystanders(server.port, 5);
  await others.echoAll(1);
  await others.closeAll();
  await sleep(50);
  assert.equal(server.child.exitCode, null, 'the process is alive');
});

test('WebSocketServer: the WebSocket emits error then close, the server emits nothing', { timeout: 30000 }, async (t) => {
  const server = await startServer(t, 'wss');
  const others = await bystanders(server.port, 5);
  const { code } = await panicsOnce(server.port, TRIGGER);
  assert.equal(code, 1011);
  await others.echoAll(1);
  await others.closeAll();
  await within(5000, 'server-side close', (done) => {
    const check = () => (server.lines.filter((l) => l.wsClose !== undefined).length >= 6 ? done() : setTimeout(check, 10));
    check();
  });
  assert.deepEqual(server.lines.filter((l) => l.wsError).map((l) => l.wsError), ['LWS_ERR_INTERNAL']);
  assert.equal(server.lines.filter((l) => l.serverError).length, 0);
  assert.ok(server.lines.some((l) => l.wsClose === 1006), 'ws reports an errored socket as 1006');
});

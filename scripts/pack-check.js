'use strict';
// Run by scripts/pack-test.sh inside an empty project where the packed tarballs were
// installed (a PATH without cargo): what a user of the published package gets.
//   node check.js            require + import, the demo, a client round trip
//   node check.js source     the same, with the engine the install script built from source
//   node check.js no-engine  require('lws') must throw the one clear error
const assert = require('assert/strict');
const http = require('http');
const path = require('path');
const fs = require('fs');
const { spawn, spawnSync } = require('child_process');

const app = process.cwd();
const step = (what) => console.log(`pack-check: ${what}`);
const within = (ms, what, promise) => {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
};

function noCargo() {
  assert.notEqual(spawnSync('cargo', ['--version']).status, 0, 'cargo must not be on the PATH here');
}

/** The client side of a round trip: connect, send `text` and wait for its echo (or, without it, just open), close 1000. */
async function roundTrip(lws, url, { text } = {}) {
  const client = new lws.Client();
  const seen = [];
  const done = new Promise((resolve, reject) => {
    client.on('error', (err) => reject(err));
    client.on('open', (socket) => {
      if (text === undefined) client.close(socket, 1000, 'done');
      else client.send(socket, text);
    });
    client.on('message', (socket, message) => {
      seen.push(Buffer.from(message).toString());
      if (seen.includes(text)) client.close(socket, 1000, 'done');
    });
    client.on('close', (socket, code) => resolve(code));
  });
  client.connect(url);
  const code = await within(5000, `round trip with ${url}`, done);
  assert.equal(code, 1000);
  return seen;
}

async function main() {
  if (!fromSource) noCargo();
  step(`node ${process.version}, ${process.platform}-${process.arch}, ${fromSource ? 'engine built from source at install' : 'cargo not on the PATH'}`);

  const lws = require('lws');
  const resolved = require.resolve('lws');
  assert.ok(resolved.startsWith(path.join(app, 'node_modules', 'lws') + path.sep), resolved);
  const addons = Object.keys(require.cache).filter((f) => f.endsWith('.node'));
  const prebuilt = path.join(app, 'node_modules', `${require('lws/package.json').name}-linux-x64-gnu`, 'lws.linux-x64-gnu.node');
  const sourceBuild = path.join(app, 'node_modules', 'lws', 'native', 'lws.linux-x64-gnu.node');
  if (fromSource) {
    assert.deepEqual(addons, [sourceBuild], 'the engine was built from source by the install script');
  } else {
    assert.deepEqual(addons, [prebuilt], 'the engine comes from the platform package');
    assert.ok(!fs.existsSync(sourceBuild), 'nothing was built from source');
  }
  step(`require('lws'): ok, engine ${path.relative(app, addons[0])}`);

  const esm = await import('lws');
  assert.equal(esm.Server, lws.Server);
  assert.equal(esm.Client, lws.Client);
  assert.equal(esm.WebSocketServer, lws.WebSocketServer);
  step("import('lws'): ok, same classes as require");

  // lws.Server <-> lws.Client in this process.
  const server = new lws.Server({ port: 0, host: '127.0.0.1' });
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  const serverClosed = new Promise((resolve) => server.on('close', (socket, code) => resolve(code)));
  await within(5000, 'listening', new Promise((resolve) => server.once('listening', resolve)));
  assert.deepEqual(await roundTrip(lws, `ws://127.0.0.1:${server.port}/`, { text: 'hello from the packed client' }), ['hello from the packed client']);
  assert.equal(await within(5000, "server's close", serverClosed), 1000);
  await new Promise((resolve) => server.close(resolve));
  step('lws.Client round trip with an lws.Server: ok (echo, close 1000 on both ends)');

  // The demo (examples/demo.js, copied here unchanged), for a moment.
  const port = await new Promise((resolve) => {
    const probe = http.createServer().listen(0, '127.0.0.1', () => { const { port } = probe.address(); probe.close(() => resolve(port)); });
  });
  const demo = spawn(process.execPath, ['demo.js'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit'] });
  const demoExit = new Promise((resolve) => demo.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    const page = await within(10000, 'the demo page', (async () => {
      for (;;) {
        try {
          return await new Promise((resolve, reject) => {
            http.get(`http://127.0.0.1:${port}/`, (res) => {
              let body = '';
              res.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
            }).on('error', reject);
          });
        } catch {
          await new Promise((r) => setTimeout(r, 100)); // not listening yet
        }
      }
    })());
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    assert.match(page.body, /WebSocket/);
    step(`demo: GET / -> ${page.status} ${page.type}, ${page.body.length} bytes`);
    const seen = await roundTrip(lws, `ws://127.0.0.1:${port}/`);
    step(`demo: WebSocket with lws.Client: open, ${seen.length} message(s) from the demo, close 1000`);
  } finally {
    demo.kill('SIGTERM');
    await within(5000, 'the demo to exit', demoExit);
  }
}

function noEngine() {
  noCargo();
  const r = spawnSync(process.execPath, ['-e', "require('lws')"], { encoding: 'utf8' });
  assert.notEqual(r.status, 0, 'require must fail');
  const message = r.stderr;
  for (const needed of [
    /Error: lws: no native engine for linux-x64, glibc \(process\.platform linux, process\.arch x64\)/,
    /install again without --omit=optional/,
    /lws-linux-x64-gnu/,
    /install a Rust toolchain \(cargo/,
    /ERR_LWS_NO_NATIVE_ENGINE/,
  ]) assert.match(message, needed);
  step(`require('lws') without the platform package and without cargo throws:\n${message.slice(message.indexOf('Error: lws:')).split('\n').slice(0, 4).map((l) => `    ${l}`).join('\n')}`);
}

const fromSource = process.argv[2] === 'source';
if (process.argv[2] === 'no-engine') noEngine();
else {
  main().then(() => step('all checks passed'), (err) => {
    console.error(err);
    process.exit(1);
  });
}

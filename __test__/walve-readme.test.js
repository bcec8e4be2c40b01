'use strict';
// Every example of walve 2's README (node_modules/walve/README.md, the package's own;
// the seed README's first example is its `function` form) and of the examples it
// points to (opt/echo, opt/stream, opt/sugar, opt/cluster's worker), run unchanged but
// for the require (and opt/'s fixed port 3000), against the real walve package and
// lws/walve, with the `ws` client as the peer: what the client receives, and what
// the examples print, must be the same.
//
// Run: node --test --test-concurrency=1 __test__/walve-readme.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { PassThrough } = require('node:stream');
const WebSocket = require('ws');
const { transcriptOf, IMPLEMENTATIONS } = require('./helpers/walve');
const { waitUntil, withTimeout, sleep } = require('./helpers/wait');

const WALVE_DIR = path.dirname(require.resolve('walve/package.json'));
const README = fs.readFileSync(path.join(WALVE_DIR, 'README.md'), 'utf8');
const MODULE_PATH = { walve: require.resolve('walve'), lws: require.resolve('lws/walve') };

/** The README's examples, as written there (4-space indented blocks), in order. */
const EXAMPLES = {
  seed: "var walve = require('walve');\n\nwalve.createServer(function(wsocket) {\n  wsocket.on('incoming', function(incoming) {\n    // handle readable incoming stream\n  });\n}).listen(server);",
  top: "const walve = require('walve');\n\nwalve.createServer(wsocket => {\n  wsocket.on('incoming', incoming => {\n    // handle readable incoming stream\n  })\n}).listen(server)",
  incoming: "wsocket.on('incoming', function(incoming) {\n  incoming.pipe(process.stdout, { end: false });\n});",
  end: 'wsocket.end();\n// actually better:\nvar outgoing = new Outgoing({ opcode: 0x08 });\noutgoing.pipe(socket);\noutgoing.end();',
  header: 'if (incoming.header.opcode === 0x01) {\n    // handle data as unicode\n}',
  readable: "var message = '';\n\nincoming.on('readable', function() {\n  message += incoming.read().toString();\n});",
  incomingEnd: "incoming.on('end', function() {\n  // log prev buffered messages\n  console.log(message);\n});",
  outgoingHeader: "outgoing.header.final = true;\noutgoing.header.masked = false;\noutgoing.header.opcode = 0x01;\noutgoing.header.length = 0x0a;\n\noutgoing.write('Hello World').pipe(wsocket, { end: false });",
};

test("the examples are the README's, as written there", () => {
  const blocks = README.split('\n\n').filter((b) => b.startsWith('    ')).map((b) => b.replace(/^ {4}/gm, ''));
  const joined = blocks.join('\n\n');
  for (const [name, code] of Object.entries(EXAMPLES)) {
    if (name === 'seed') continue; // the seed README's rendering of `top`
    assert.ok(joined.includes(code), `README example ${name} not found:\n${code}`);
  }
});

/** Runs `code` (an example) with the names it uses bound; `require('walve')` gives `walve`. */
function run(code, walve, names) {
  const scope = { require: (id) => (id === 'walve' ? walve : require(id)), ...names };
  return new Function(...Object.keys(scope), code)(...Object.values(scope));
}

/** `console` and `process.stdout` for an example: what it prints goes to `log`. */
function printer(log) {
  const stdout = new PassThrough();
  stdout.on('data', (chunk) => log('stdout', chunk.toString()));
  return { process: { stdout }, console: { log: (...args) => log('console.log', args.join(' ')) } };
}

/** A ws client on ctx's server: its messages and its close are logged. */
function peer(ctx) {
  return ctx.client('/', undefined, (ws) => {
    ws.on('message', (data, isBinary) => ctx.log('client message', isBinary, data.toString()));
    ws.on('close', (code) => ctx.log('client close', code));
  });
}

const same = async (scenario) => {
  const reference = await transcriptOf('walve', scenario);
  const candidate = await transcriptOf('lws', scenario);
  assert.deepStrictEqual(candidate, reference);
  return reference;
};

for (const name of ['seed', 'top']) {
  test(`README: the ${name === 'seed' ? "seed README's" : "package README's"} first example takes connections`, async () => {
    const t = await same(async (ctx) => {
      // The server the example creates, watched from outside: its 'connect' and 'incoming'.
      const walve = { ...ctx.walve, createServer: (listener) => ctx.walve.createServer(listener).on('connect', (s) => {
        ctx.log('connect');
        s.on('incoming', (incoming) => ctx.log('incoming', incoming.header.opcode, incoming.header.length));
      }) };
      run(EXAMPLES[name], walve, { server: ctx.http });
      const ws = await peer(ctx);
      await waitUntil(() => ctx.entries.length >= 1, 2000, 'connect');
      ws.send('hi');
      await waitUntil(() => ctx.entries.length >= 2, 2000, 'incoming');
    });
    assert.deepEqual(t, [['connect'], ['incoming', 1, 2]]);
  });
}

test("README: 'incoming' piped to process.stdout prints every frame's payload", async () => {
  const t = await same(async (ctx) => {
    ctx.walve.createServer((wsocket) => run(EXAMPLES.incoming, ctx.walve, { wsocket, ...printer(ctx.log) })).listen(ctx.http);
    const ws = await peer(ctx);
    ws.send('one ');
    ws.send('two\n');
    await waitUntil(() => ctx.entries.length >= 2, 2000, 'two frames printed');
  });
  assert.deepEqual(t.map((e) => e[1]).join(''), 'one two\n');
});

test("README: incoming.header, 'readable' and 'end' log each text frame, however it arrives", async () => {
  const t = await same(async (ctx) => {
    ctx.walve.createServer((wsocket) => {
      wsocket.on('incoming', (incoming) => {
        run(EXAMPLES.header, ctx.walve, { incoming });
        run(`${EXAMPLES.readable}\n${EXAMPLES.incomingEnd}`, ctx.walve, { incoming, ...printer(ctx.log) });
      });
    }).listen(ctx.http);
    const ws = await peer(ctx);
    ws.send('short');
    ws.send('y'.repeat(100000)); // arrives in several reads
    ws.send('last');
    await waitUntil(() => ctx.entries.length >= 3, 3000, 'three messages logged');
    ctx.entries[1][1] = ctx.entries[1][1].length;
  });
  assert.deepEqual(t, [['console.log', 'short'], ['console.log', 100000], ['console.log', 'last']]);
});

test("README: outgoing.header as shown: write() returns a boolean, so `.pipe` throws in both; piped first, 'Hello Worl' is sent", async () => {
  const t = await same(async (ctx) => {
    ctx.walve.createServer((wsocket) => {
      const outgoing = new ctx.walve.Outgoing();
      outgoing.on('error', () => {}); // lws/walve reports the 11th byte (past header.length) here
      try {
        run(EXAMPLES.outgoingHeader, ctx.walve, { outgoing, wsocket });
      } catch (err) {
        ctx.log('throws', err.constructor.name, err.message);
      }
      // As the README means it: piped, then written.
      const intended = new ctx.walve.Outgoing();
      intended.on('error', () => {});
      run(EXAMPLES.outgoingHeader.replace("outgoing.write('Hello World').pipe(wsocket, { end: false });", "outgoing.pipe(wsocket, { end: false });\noutgoing.write('Hello World');"), ctx.walve, { outgoing: intended, wsocket });
    }).listen(ctx.http);
    await peer(ctx);
    await waitUntil(() => ctx.entries.length >= 2, 2000, 'the frame');
  });
  assert.deepEqual(t, [['throws', 'TypeError', "outgoing.write(...).pipe is not a function"], ['client message', false, 'Hello Worl']]);
});

test('README: socket.end (then an Outgoing that writes nothing): walve 2 leaves the connection open, lws/walve closes it (its README: "Will completely close the TCP socket")', async () => {
  const outcome = {};
  for (const impl of ['walve', 'lws']) {
    outcome[impl] = await transcriptOf(impl, async (ctx) => {
      ctx.walve.createServer((wsocket) => {
        run(EXAMPLES.end, ctx.walve, { wsocket, socket: wsocket, Outgoing: ctx.walve.Outgoing });
        wsocket.on('close', () => ctx.log('socket close'));
      }).listen(ctx.http);
      await peer(ctx);
      await sleep(300);
    });
  }
  assert.deepEqual(outcome.walve, [], 'walve 2: nothing sent, nothing closed');
  assert.deepEqual(outcome.lws.map(String).sort(), ['client close,1006', 'socket close'], 'lws/walve: TCP closed without a close frame, as end() does');
});

// ---- the examples of opt/, as child processes -----------------------------------------------

/**
 * Runs `opt/<file>` against `impl`: its source with require('../../lib') pointing at the
 * implementation and port 3000 replaced by a free one, compiled under its own file name
 * (so __dirname finds its index.html and the README it streams).
 */
async function optExample(t, file, impl) {
  const port = await freePort();
  const filename = path.join(WALVE_DIR, 'opt', file);
  const source = fs.readFileSync(filename, 'utf8').replace(/require\('\.\.\/\.\.\/lib'\)/g, `require(${JSON.stringify(MODULE_PATH[impl])})`).replace(/\b3000\b/g, String(port));
  const loader = `const Module = require('module'); const m = new Module(${JSON.stringify(filename)}, null); m.filename = ${JSON.stringify(filename)}; m.paths = Module._nodeModulePaths(${JSON.stringify(path.dirname(filename))}); m._compile(${JSON.stringify(source)}, ${JSON.stringify(filename)});`;
  const child = spawn(process.execPath, ['-e', loader], { cwd: path.join(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  t.after(() => child.kill('SIGKILL'));
  const url = `ws://127.0.0.1:${port}/`;
  for (let i = 0; ; i++) {
    try {
      const ws = new WebSocket(url);
      await withTimeout(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 2000, 'open');
      return { ws, child, stderr: () => stderr };
    } catch (err) {
      if (i === 50) throw new Error(`${file} (${impl}) did not take connections: ${err.message}\n${stderr}`);
      await sleep(100);
    }
  }
}

/** A port nothing listens on now (asked of the kernel, then released for the example to take). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = require('node:net').createServer();
    probe.once('error', reject);
    probe.listen(0, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** What a ws client receives in `ms` after `act(ws)`: messages, and its close code if any. */
async function received(ws, act, until) {
  const got = [];
  ws.on('message', (data, isBinary) => got.push([isBinary, data.toString()]));
  await act(ws);
  await waitUntil(() => until(got), 5000, 'the messages');
  ws.terminate();
  return got;
}

test('opt/echo: the browser page\'s message comes back', { timeout: 20000 }, async (t) => {
  const out = {};
  for (const impl of ['walve', 'lws']) {
    const { ws } = await optExample(t, 'echo/index.js', impl);
    out[impl] = await received(ws, (c) => c.send('Hello, my name is Bodo'), (got) => got.length === 1);
  }
  assert.deepEqual(out.lws, out.walve);
  assert.deepEqual(out.lws, [[false, 'Hello, my name is Bodo']]);
});

test("opt/cluster's worker: the same echo (one process here)", { timeout: 20000 }, async (t) => {
  const out = {};
  for (const impl of ['walve', 'lws']) {
    const { ws } = await optExample(t, 'cluster/worker.js', impl);
    out[impl] = await received(ws, (c) => { c.send('a'); c.send('b'.repeat(70000)); }, (got) => got.length === 2);
  }
  assert.deepEqual(out.lws, out.walve);
});

test('opt/stream: walve\'s README streamed as one fragmented text message', { timeout: 20000 }, async (t) => {
  const out = {};
  for (const impl of ['walve', 'lws']) {
    const { ws } = await optExample(t, 'stream/index.js', impl);
    out[impl] = await received(ws, () => {}, (got) => got.length === 1);
  }
  assert.deepEqual(out.lws, out.walve);
  assert.equal(out.lws[0][1], README);
});

test('opt/sugar: text frames broadcast to every connection', { timeout: 20000 }, async (t) => {
  const out = {};
  for (const impl of ['walve', 'lws']) {
    const { ws: a } = await optExample(t, 'sugar/index.js', impl);
    const b = new WebSocket(a.url);
    await withTimeout(new Promise((resolve) => b.once('open', resolve)), 2000, 'the second client');
    const toB = [];
    b.on('message', (data) => toB.push(data.toString()));
    out[impl] = await received(a, (c) => c.send('Click on body.\n'), (got) => got.length === 1);
    await waitUntil(() => toB.length === 1, 2000, 'the broadcast to the second client');
    out[impl].push(toB);
    b.terminate();
  }
  assert.deepEqual(out.lws, out.walve);
  assert.deepEqual(out.lws, [[false, 'Click on body.\n'], ['Click on body.\n']]);
});

test('both implementations are the ones named', () => {
  assert.equal(IMPLEMENTATIONS.walve.module, require('walve'));
  assert.equal(IMPLEMENTATIONS.lws.module, require('lws/walve'));
});

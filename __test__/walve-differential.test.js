'use strict';
// lws/walve against the real walve 2.0.0 package: each scenario runs against both,
// on the same kind of http server, with the `ws` client or a raw TCP client (fixed
// mask keys, frames split across reads on purpose), and the transcripts (the
// server's events in order, incoming headers and payloads, the 101's headers, the
// bytes each client receives, TCP ends) must be equal. Where lws/walve differs on
// purpose (README "lws/walve"), the scenario says so and asserts the difference.
//
// Run: node --test --test-concurrency=1 __test__/walve-differential.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const net = require('node:net');
const WebSocket = require('ws');
const { IMPLEMENTATIONS, transcriptOf, observe, frame, decodeFrames } = require('./helpers/walve');
const { KEY } = require('./helpers/differential');
const { waitUntil, withTimeout, sleep } = require('./helpers/wait');

/** Runs `scenario` against walve and lws/walve; returns both transcripts after asserting them equal. */
async function same(scenario, options) {
  const reference = await transcriptOf('walve', scenario, options);
  const candidate = await transcriptOf('lws', scenario, options);
  assert.deepStrictEqual(candidate, reference);
  return reference;
}

/** The walve README's echo (opt/echo): each incoming frame piped back through an Outgoing of its length. */
function echo(walve, log) {
  return walve.createServer((wsocket) => {
    observe(log, wsocket);
    wsocket.on('incoming', (incoming) => {
      const outgoing = new walve.Outgoing({ header: { length: incoming.header.length } });
      incoming.pipe(outgoing).pipe(wsocket, { end: false });
    });
  });
}

const ended = (entries, n) => entries.filter((e) => e[1] === 'end').length >= n;

/**
 * A transcript frame by frame: with a client whose writes the kernel may split or join
 * (ws, TLS through the relay), how one frame's events interleave with the next one's
 * follows the reads; the raw-client scenarios, which control reads, compare that too.
 */
const byFrame = (entries) => [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

// lws/walve's 'connect' comes once the engine has written the 101 (walve's, during
// Node's 'upgrade' event, before): the scenarios wait for both before going on.
const connected = (entries, n = 1) => waitUntil(() => entries.filter((e) => /connect$/.test(e[0])).length >= n, 2000, "'connect'");

test('the handshake: the same 101, field by field (Date aside)', async () => {
  const t = await same(async ({ walve, http, raw, log, entries }) => {
    walve.createServer(() => log('connect')).listen(http);
    const { head } = await raw('/chat?x=1');
    await connected(entries);
    log('head', head);
  });
  assert.equal(t.find((e) => e[0] === 'head')[1].status, 'HTTP/1.1 101 Switching Protocols');
});

test('echo with the ws client: text, binary, 70,000 bytes, empty; headers of each incoming frame', async () => {
  const t = await same(async ({ walve, http, client, log, entries }) => {
    echo(walve, entries).listen(http);
    const ws = await client('/');
    const got = [];
    ws.on('message', (data, isBinary) => got.push([isBinary, data.length, data.toString('latin1').slice(0, 20)]));
    ws.send('hello');
    ws.send(Buffer.from([1, 2, 3]));
    ws.send('x'.repeat(70000));
    ws.send('');
    ws.send('after');
    await waitUntil(() => got.length === 4, 3000, 'four echoes');
    log('client got', got);
    // ws masks with random keys: the headers are compared without them.
    for (const e of entries) if (e[1] === 'incoming') delete e[2].masking;
    entries.splice(0, entries.length, ...byFrame(entries));
  });
  // walve's Outgoing defaults to a text frame: the binary message comes back as text; the empty one does not come back (nothing written).
  assert.deepEqual(t.find((e) => e[0] === 'client got')[1], [[false, 5, 'hello'], [false, 3, '\x01\x02\x03'], [false, 70000, 'x'.repeat(20)], [false, 5, 'after']]);
});

test('frames split across reads, glued in one read, fragmented, empty, 126 and 65536 bytes: incoming per frame', async () => {
  await same(async ({ walve, http, raw, entries, settle }) => {
    walve.createServer((wsocket) => observe(entries, wsocket)).listen(http);
    const { raw: c } = await raw('/');
    const bytes = frame(0x1, 'Hello');
    for (const b of bytes) {
      c.write(Buffer.from([b]));
      await settle(5);
    }
    await waitUntil(() => ended(entries, 1), 2000, 'the first frame');
    c.write(Buffer.concat([frame(0x2, Buffer.from([9, 8, 7])), frame(0x1, 'glued')]));
    await waitUntil(() => ended(entries, 3), 2000, 'two glued frames');
    c.write(frame(0x1, 'fragm', { fin: false }));
    await waitUntil(() => ended(entries, 4), 2000, 'a first fragment');
    c.write(frame(0x0, 'ented'));
    await waitUntil(() => ended(entries, 5), 2000, 'the continuation');
    c.write(frame(0x2, Buffer.alloc(0)));
    await waitUntil(() => ended(entries, 6), 2000, 'an empty frame');
    c.write(frame(0x2, Buffer.alloc(126, 1)));
    await waitUntil(() => ended(entries, 7), 2000, '126 bytes');
    const big = frame(0x2, Buffer.alloc(65536, 2));
    c.write(big.subarray(0, 30000));
    await settle(20);
    c.write(big.subarray(30000));
    await waitUntil(() => ended(entries, 8), 2000, '65536 bytes');
  });
});

test("the README's 'readable' loop sees no null, however the frame's bytes arrive", async () => {
  await same(async ({ walve, http, raw, log, entries, settle }) => {
    walve.createServer((wsocket) => {
      wsocket.on('incoming', (incoming) => {
        let message = '';
        incoming.on('readable', () => {
          message += incoming.read().toString();
        });
        incoming.on('end', () => log('message', message));
      });
    }).listen(http);
    const { raw: c } = await raw('/');
    const bytes = frame(0x1, 'split in three');
    c.write(bytes.subarray(0, 8));
    await settle(20);
    c.write(bytes.subarray(8, 12));
    await settle(20);
    c.write(bytes.subarray(12));
    c.write(frame(0x1, 'whole'));
    await waitUntil(() => entries.length === 2, 2000, 'two messages');
  });
});

test("frames in one read: each frame's data and 'end' interleave with the next frame's events as walve's, read by 'data', 'readable' or a pipe", async () => {
  const { Writable } = require('node:stream');
  for (const reader of ['data', 'readable', 'pipe']) {
    await same(async ({ walve, http, raw, log, entries, settle }) => {
      let n = 0;
      walve.createServer((wsocket) => {
        wsocket.on('incoming', (incoming) => {
          const id = n++;
          log(id, 'incoming');
          if (reader === 'data') incoming.on('data', (chunk) => log(id, 'data', String(chunk)));
          else if (reader === 'readable') {
            incoming.on('readable', () => {
              const chunk = incoming.read();
              log(id, 'read', chunk === null ? null : String(chunk));
            });
          } else {
            const sink = new Writable({ write(chunk, encoding, done) { log(id, 'write', String(chunk)); done(); } });
            incoming.pipe(sink).on('finish', () => log(id, 'finish'));
          }
          incoming.on('end', () => log(id, 'end'));
        });
      }).listen(http);
      const { raw: c } = await raw('/');
      // Three frames in one write (an empty one between), then a frame whose last bytes share a read with the next one.
      c.write(Buffer.concat([frame(0x1, 'hi'), frame(0x2, ''), frame(0x1, 'yo')]));
      await settle(50);
      const split = frame(0x1, 'abc');
      c.write(split.subarray(0, split.length - 2));
      await settle(50);
      c.write(Buffer.concat([split.subarray(split.length - 2), frame(0x1, 'd')]));
      await waitUntil(() => entries.filter((e) => e[1] === 'end').length === 5, 2000, 'five frames');
      await settle(20);
    });
  }
});

test('Outgoing frames on the wire: lengths 5, 0, 126, 65536, opcodes, the header set after construction', async () => {
  const t = await same(async ({ walve, http, raw, log }) => {
    walve.createServer((wsocket) => {
      const send = (header, data) => {
        const outgoing = new walve.Outgoing({ header });
        outgoing.pipe(wsocket, { end: false });
        outgoing.end(data);
      };
      send({ length: 5 }, 'hello');
      send({}, ''); // walve's defaults: a final empty text frame
      send({ opcode: 0x2, length: 126 }, Buffer.alloc(126, 3));
      send({ opcode: 0x2, length: 65536 }, Buffer.alloc(65536, 4));
      // opt/stream's way: the header replaced before the first write; a message in three frames.
      const parts = [[{ final: false, opcode: 0x1 }, ''], [{ final: false, opcode: 0x0, length: 3 }, 'abc'], [{ final: true, opcode: 0x0 }, '']];
      for (const [header, data] of parts) {
        const outgoing = new walve.Outgoing();
        outgoing.header = header;
        outgoing.pipe(wsocket, { end: false });
        outgoing.end(data);
      }
      // The README's outgoing.header assignments (length 10: 'Hello World' is cut to 'Hello Worl').
      const outgoing = new walve.Outgoing();
      outgoing.header.final = true;
      outgoing.header.masked = false;
      outgoing.header.opcode = 0x01;
      outgoing.header.length = 0x0a;
      outgoing.pipe(wsocket, { end: false });
      outgoing.write('Hello World');
    }).listen(http);
    const { raw: c } = await raw('/');
    const expected = 7 + 2 + 130 + 65546 + 2 + 5 + 2 + 12;
    await c.until(() => c.buffer.length >= expected, 3000);
    log('wire', decodeFrames(c.take(c.buffer.length)));
  });
  assert.equal(t[0][1].length, 8);
  assert.deepEqual(t[0][1].at(-1), { fin: true, rsv: 0, opcode: 1, masked: false, text: 'Hello Worl' });
});

test("an Outgoing read on its own (a client's frames to a server): masked when header.masked, ended with its last bytes", async () => {
  const run = async (walve) => {
    const log = [];
    // walve's way of reading one: read() in 'readable' (a null there would throw in `.toString()`).
    const cases = [
      [{ length: 0 }, ['']],
      [{ length: 5 }, ['He', 'llo']],
      [{ length: 5, masked: true, masking: Buffer.from([1, 2, 3, 4]) }, ['He', null, 'llo']],
      [{ length: 130, opcode: 2, masked: true, masking: Buffer.from([9, 8, 7, 6]) }, ['x'.repeat(100), null, 'y'.repeat(30)]],
    ];
    for (const [header, writes] of cases) {
      const outgoing = new walve.Outgoing({ header });
      const reads = [];
      outgoing.on('readable', () => {
        const chunk = outgoing.read();
        reads.push(chunk === null ? null : chunk.toString('hex'));
      });
      const end = new Promise((resolve) => outgoing.on('end', resolve));
      for (const data of writes) {
        if (data === null) await sleep(10);
        else outgoing.write(data);
      }
      await withTimeout(end, 1000, 'the Outgoing to end');
      log.push(['read', reads]);
    }
    // A masked frame with walve's random key, written to a TCP connection to a ws server.
    const wss = new WebSocket.Server({ port: 0 });
    await new Promise((resolve) => wss.on('listening', resolve));
    const got = new Promise((resolve) => wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => resolve(['message', data.toString(), isBinary]));
      ws.on('error', (err) => resolve(['error', err.message]));
    }));
    const tcp = net.connect(wss.address().port, '127.0.0.1');
    tcp.write(`GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const outgoing = new walve.Outgoing({ header: { masked: true, length: 11 } });
    outgoing.pipe(tcp, { end: false });
    outgoing.write('hello world');
    log.push(['key', Buffer.isBuffer(outgoing.header.masking) && outgoing.header.masking.length]);
    try {
      log.push(['ws server', await withTimeout(got, 2000, 'the ws server')]);
    } finally {
      tcp.destroy();
      await new Promise((resolve) => wss.close(resolve));
    }
    return log;
  };
  const reference = await run(IMPLEMENTATIONS.walve.module);
  assert.deepStrictEqual(await run(IMPLEMENTATIONS.lws.module), reference);
  assert.deepEqual(reference[2], ['read', ['8185010203044967', '6f686e']]);
  assert.deepEqual(reference.at(-1), ['ws server', ['message', 'hello world', false]]);
});

test("socket.end() right after a large frame (an Outgoing piped without { end: false }), to a slow reader: the whole frame arrives", async () => {
  const N = 16 * 1024 * 1024;
  await same(async ({ walve, http, raw, log, settle }) => {
    walve.createServer((wsocket) => {
      wsocket.on('finish', () => log('finish'));
      const outgoing = new walve.Outgoing({ header: { opcode: 0x2, length: N } });
      outgoing.pipe(wsocket); // ends the socket after the frame
      outgoing.end(Buffer.alloc(N, 7));
    }).listen(http);
    const { raw: c } = await raw('/');
    c.socket.pause(); // a slow reader: what the kernel does not take waits in the server
    await settle(300);
    let received = c.buffer.length;
    c.socket.removeAllListeners('data');
    c.socket.on('data', (chunk) => { received += chunk.length; });
    c.socket.resume();
    await waitUntil(() => received >= N + 10, 5000, 'the whole frame').catch(() => {});
    log('received', received); // lws/walve then closes the connection, walve leaves it open (README)
  });
});

test("an Incoming and an Outgoing that ended are not destroyed: no 'close' after 'end' and 'finish'", async () => {
  const t = await same(async ({ walve, http, raw, log, entries, settle }) => {
    walve.createServer((wsocket) => {
      wsocket.on('incoming', (incoming) => {
        const outgoing = new walve.Outgoing({ header: { length: incoming.header.length } });
        for (const [name, stream] of [['incoming', incoming], ['outgoing', outgoing]]) {
          for (const event of ['end', 'finish', 'close']) stream.on(event, () => log(name, event, stream.destroyed));
        }
        incoming.pipe(outgoing).pipe(wsocket, { end: false });
      });
    }).listen(http);
    const { raw: c } = await raw('/');
    c.write(frame(0x1, 'echo'));
    await waitUntil(() => entries.length >= 3, 2000, 'the echo to end');
    await settle(50);
  });
  assert.deepEqual(t, [['outgoing', 'end', false], ['incoming', 'end', false], ['outgoing', 'finish', false]]);
});

test("the url option: two servers on one http server, each gets its own path's connections", async () => {
  await same(async ({ walve, http, raw, log, entries }) => {
    new walve.Server({ url: '/a' }).listen(http).on('connect', () => log('a connect'));
    const b = new walve.Server().listen(http).on('connect', () => log('b connect'));
    b.url = '/b'; // walve reads it at each upgrade
    const b101 = (await raw('/b')).head.status;
    await connected(entries, 1);
    log(b101);
    const a101 = (await raw('/a')).head.status;
    await connected(entries, 2);
    log(a101);
    const other = await raw('/c', '', 300); // neither takes it: no answer
    log('/c', other.head);
  });
});

test("a client's TCP end: the socket emits 'close'", async () => {
  await same(async ({ walve, http, raw, entries }) => {
    walve.createServer((wsocket) => observe(entries, wsocket)).listen(http);
    const { raw: c } = await raw('/');
    c.write(frame(0x1, 'bye'));
    await waitUntil(() => ended(entries, 1), 2000, 'the frame');
    c.end();
    await waitUntil(() => entries.some((e) => e[1] === 'close'), 2000, "the socket's close");
  });
});

test('control frames come as incoming frames in both; lws/walve also answers a ping (walve 2 does not)', async () => {
  const run = async ({ walve, http, raw, log, entries }) => {
    walve.createServer((wsocket) => observe(entries, wsocket)).listen(http);
    const { raw: c } = await raw('/');
    c.write(Buffer.concat([frame(0x9, 'ping!'), frame(0xa, 'pong!')]));
    await waitUntil(() => ended(entries, 2), 2000, 'both frames');
    await c.until(() => c.buffer.length > 0, 300);
    log('wire', decodeFrames(c.take(c.buffer.length)));
  };
  const reference = await transcriptOf('walve', run);
  const candidate = await transcriptOf('lws', run);
  assert.deepStrictEqual(candidate.slice(0, -1), reference.slice(0, -1), 'the same incoming frames');
  assert.deepEqual(reference.at(-1), ['wire', []]);
  assert.deepEqual(candidate.at(-1), ['wire', [{ fin: true, rsv: 0, opcode: 0xa, masked: false, hex: Buffer.from('ping!').toString('hex') }]], 'the engine pongs');
});

test("a reserved opcode: the socket's 'error' (walve's words), then its 'close' when the client leaves", async () => {
  const run = async ({ walve, http, raw, entries }) => {
    walve.createServer((wsocket) => observe(entries, wsocket)).listen(http);
    const { raw: c } = await raw('/');
    c.write(frame(0x4, 'x'));
    await waitUntil(() => entries.some((e) => e[1] === 'error'), 2000, "the socket's 'error'");
    c.end(); // walve leaves the connection open (lws/walve has closed it with 1002)
    await waitUntil(() => entries.some((e) => e[1] === 'close'), 2000, "the socket's 'close'");
  };
  const t = await same(run);
  assert.deepEqual(t, [['socket', 'error', 'Invalid opcode 4.'], ['socket', 'close']]);
  // Errors walve throws from its parser (it has no listener for them): told to lws/walve's listeners too.
  const rsv = await transcriptOf('lws', async ({ walve, http, raw, entries }) => {
    walve.createServer((wsocket) => observe(entries, wsocket)).listen(http);
    const { raw: c } = await raw('/');
    c.write(Buffer.concat([Buffer.from([0xc1]), frame(0x1, 'x').subarray(1)]));
    await waitUntil(() => entries.some((e) => e[1] === 'close'), 2000, "the socket's 'close'");
  });
  assert.deepEqual(rsv, [['socket', 'error', 'RSV flag should not be set.'], ['socket', 'close']]);
});

test("the http server's timeout after the upgrade: walve's empty close frame once idle, not while frames come and go", async () => {
  const t = await same(async ({ walve, http, client, log, entries, settle }) => {
    http.setTimeout(250); // Node keeps it on the upgraded socket
    const clients = []; // what the clients see, apart: which end reports its close first varies
    walve.createServer((wsocket) => {
      const first = entries.length === 0;
      log('connect');
      wsocket.on('incoming', (incoming) => {
        log('incoming', incoming.header.opcode, incoming.header.length);
        incoming.resume();
      });
      wsocket.on('close', () => log('close'));
      if (first) {
        // The first connection only writes, for longer than the timeout: not idle.
        for (let i = 1; i <= 4; i++) {
          setTimeout(() => {
            const outgoing = new walve.Outgoing({ header: { length: 1 } });
            outgoing.pipe(wsocket, { end: false });
            outgoing.end(String(i));
          }, i * 100);
        }
      }
    }).listen(http);
    const writer = await client('/');
    const got = [];
    writer.on('message', (data) => got.push(String(data)));
    writer.on('close', (code) => clients.push(['writer closed', code, got.join('')]));
    await waitUntil(() => clients.length === 1 && entries.some((e) => e[0] === 'close'), 3000, 'the writer to be closed once idle');
    const quiet = await client('/');
    quiet.on('close', (code) => clients.push(['quiet closed', code]));
    await settle(100);
    log('quiet still open', quiet.readyState === WebSocket.OPEN);
    await waitUntil(() => clients.length === 2 && entries.filter((e) => e[0] === 'close').length === 2, 3000, 'the quiet client to be closed');
    log('clients', clients);
  });
  assert.deepEqual(t, [
    ['connect'], ['incoming', 8, 0], ['close'],
    ['connect'], ['quiet still open', true], ['incoming', 8, 0], ['close'],
    ['clients', [['writer closed', 1005, '1234'], ['quiet closed', 1005]]],
  ]);
});

test('over https: the TLS socket reaches the engine through the loopback relay; the same echo', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lws-walve-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-keyout', 'key.pem', '-out', 'cert.pem'], { cwd: dir, stdio: 'pipe' });
    const tls = { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) };
    const t = await same(async ({ walve, http, client, log, entries }) => {
      echo(walve, entries).listen(http);
      const got = [];
      const ws = await client('/', undefined, (c) => c.on('message', (data) => got.push(data.toString())));
      ws.send('over tls');
      ws.send('z'.repeat(100000));
      await waitUntil(() => got.length === 2, 3000, 'two echoes');
      log('client got', got.map((m) => m.length));
      for (const e of entries) if (e[1] === 'incoming') delete e[2].masking;
      entries.splice(0, entries.length, ...byFrame(entries));
    }, { tls });
    assert.deepEqual(t[0], ['client got', [8, 100000]]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

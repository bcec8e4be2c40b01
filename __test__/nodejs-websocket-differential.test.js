'use strict';
// Differential: the same scenarios against the real nodejs-websocket 1.7 and
// lws/nodejs-websocket, each side's observable events recorded in order (codes,
// reasons, readyStates, texts, binary lengths and hashes, errors' messages);
// the transcripts must be equal. Servers are driven by the real package's client;
// clients talk to the real package's server.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('crypto');
const real = require('nodejs-websocket');
const ours = require('../lib/nodejs-websocket');
const { within, sleep } = require('./helpers/wait');

const hash = (buf) => crypto.createHash('sha1').update(buf).digest('hex').slice(0, 12);

/** Records a connection's events into `log` under `who`. */
function record(conn, log, who) {
  conn.on('text', (str) => log.push([who, 'text', str]));
  // A binary message is recorded where it starts; its bytes when it ends, apart: the
  // package ends its InStream a tick later, so where 'end' falls among the events read
  // in the same TCP read depends on how the frames were split.
  conn.on('binary', (inStream) => {
    log.push([who, 'binary']);
    const parts = [];
    inStream.on('data', (d) => parts.push(d));
    inStream.on('end', () => {
      const all = Buffer.concat(parts);
      log.binaries.push([who, all.length, hash(all)]);
    });
  });
  // The package emits 'close' again for each read over maxBufferLength; lws/nodejs-websocket once (README).
  let closes = 0;
  conn.on('close', (code, reason) => {
    if (closes++ === 0) log.push([who, 'close', code, reason, conn.readyState === undefined ? 3 : conn.readyState]);
  });
  conn.on('error', (err) => log.push([who, 'error', err.message]));
  conn.on('pong', (data) => log.push([who, 'pong', data]));
}

const bigBinary = crypto.randomBytes(1536 * 1024);

/**
 * Each scenario: `server(conn, log)` runs in the server's 'connection' handler,
 * `client(conn, log)` once the client has connected; `options` for createServer.
 */
const scenarios = {
  'scream: text both ways, client closes with a reason': {
    server: (conn) => conn.on('text', (str) => conn.sendText(`${str.toUpperCase()}!!!`)),
    client: (conn) => {
      conn.sendText('hi');
      conn.once('text', () => conn.close(1000, 'bye'));
    },
  },
  'binary: beginBinary in writes, a 1.5 MiB echo': {
    server: (conn) => conn.on('binary', (inStream) => {
      const out = conn.beginBinary();
      inStream.on('data', (d) => out.write(d));
      inStream.on('end', () => out.end());
    }),
    client: (conn) => {
      const out = conn.beginBinary();
      out.write(bigBinary.subarray(0, 100));
      out.write(bigBinary.subarray(100, 700 * 1024));
      out.end(bigBinary.subarray(700 * 1024));
      conn.once('binary', (s) => s.on('end', () => conn.close(1000)));
    },
  },
  'server closes first with a code and reason': {
    server: (conn) => conn.close(4000, 'done'),
    client: () => {},
  },
  'close without a code': {
    server: (conn) => conn.on('text', () => conn.close()),
    client: (conn) => conn.sendText('x'),
  },
  'text during a binary stream is an error, then the stream ends': {
    server: (conn) => {
      const out = conn.beginBinary();
      out.write(Buffer.from('abc'));
      conn.sendText('nope');
      conn.sendBinary(Buffer.from('nope'));
      conn.beginBinary();
      out.end(Buffer.from('def'));
      out.on('finish', () => conn.sendText('after'));
    },
    client: (conn) => conn.once('text', () => conn.close(1000)),
  },
  'protocols: the server picks the client\'s first valid one': {
    options: { validProtocols: ['chat', 'superchat'] },
    clientOptions: { protocols: ['superchat', 'chat'] },
    server: (conn, log) => {
      log.push(['server', 'protocol', conn.protocol, conn.protocols]);
      conn.close(1000);
    },
    client: (conn, log) => log.push(['client', 'protocol', conn.protocol]),
  },
  'a text over setMaxBufferLength closes with 1009': {
    limit: 200 * 1024,
    server: () => {},
    client: (conn) => conn.sendText('y'.repeat(1024 * 1024)),
  },
  'ping and pong': {
    server: (conn) => conn.on('text', () => conn.sendPing('hello')),
    client: (conn) => {
      conn.sendText('ping me');
      conn.sendPing('from client');
      setTimeout(() => conn.close(1000), 100);
    },
  },
  'the client vanishes: 1006': {
    server: () => {},
    client: (conn) => setTimeout(() => conn.socket.destroy ? conn.socket.destroy() : conn._core.terminate(conn.socket), 50),
  },
  'sending on a closed connection is an error': {
    server: (conn) => {
      conn.close(1000);
      conn.sendText('late');
      conn.close(1001, 'again');
    },
    client: () => {},
  },
};

/** Runs `scenario` with `serverLib`'s server and `clientLib`'s client; returns the transcript. */
async function run(scenario, serverLib, clientLib) {
  const log = [];
  log.binaries = [];
  const limit = scenario.limit;
  if (limit) {
    real.setMaxBufferLength(limit);
    ours.setMaxBufferLength(limit);
  }
  const server = serverLib.createServer(scenario.options || {}, (conn) => {
    log.push(['server', 'connection', conn.path, conn.readyState, conn.headers['x-test'] ?? null]);
    record(conn, log, 'server');
    scenario.server(conn, log);
  });
  try {
    await within(5000, 'listening', (resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = server.socket.address().port;
    const client = clientLib.connect(`ws://127.0.0.1:${port}/path?q=1`, { extraHeaders: { 'X-Test': 'yes' }, ...scenario.clientOptions }, () => {
      log.push(['client', 'connect', client.readyState]);
      scenario.client(client, log);
    });
    record(client, log, 'client');
    // Done once both sides reported 'close' (or after 1.5 s of quiet).
    await within(8000, 'both closes', (resolve) => {
      const check = setInterval(() => {
        const closes = new Set(log.filter((e) => e[1] === 'close').map((e) => e[0]));
        if (closes.size === 2) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    await sleep(150); // late events would show
    return log;
  } finally {
    if (limit) {
      real.setMaxBufferLength(2 * 1024 * 1024);
      ours.setMaxBufferLength(2 * 1024 * 1024);
    }
    for (const conn of server.connections) conn.socket.destroy ? conn.socket.destroy() : conn._core.terminate(conn.socket);
    await within(5000, 'server close', (resolve) => server.close(resolve));
  }
}

/** Events in order per side (the two sides' interleaving depends on scheduling). */
const bySide = (log) => ({
  server: log.filter((e) => e[0] === 'server'),
  client: log.filter((e) => e[0] === 'client'),
  binaries: ['server', 'client'].map((who) => log.binaries.filter((e) => e[0] === who)),
});

for (const [name, scenario] of Object.entries(scenarios)) {
  test(`server: ${name}`, async () => {
    const expected = await run(scenario, real, real);
    const actual = await run(scenario, ours, real);
    assert.deepEqual(bySide(actual), bySide(expected));
  });
  test(`client: ${name}`, async () => {
    const expected = await run(scenario, real, real);
    const actual = await run(scenario, real, ours);
    assert.deepEqual(bySide(actual), bySide(expected));
  });
}

test('client: the request head is the package\'s, byte for byte (but the random key)', async () => {
  const net = require('net');
  const heads = [];
  const raw = net.createServer((socket) => {
    let head = '';
    socket.on('data', (d) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        heads.push(head.replace(/Sec-WebSocket-Key: \S+/, 'Sec-WebSocket-Key: *'));
        socket.destroy();
      }
    });
  });
  await within(5000, 'listening', (resolve) => raw.listen(0, '127.0.0.1', resolve));
  const url = `ws://localhost:${raw.address().port}/chat?room=1`;
  const options = () => ({ extraHeaders: { 'X-Token': 'abc', Host: 'override.example' }, protocols: ['a', 'b'] });
  for (const lib of [real, ours]) {
    const conn = lib.connect(url, options());
    conn.on('error', () => {});
    await within(5000, 'the close', (resolve) => conn.on('close', resolve));
  }
  raw.close();
  assert.equal(heads.length, 2);
  assert.equal(heads[1], heads[0]);
});

/** The server's frames as [fin, opcode, length], read by a raw client until a close frame. */
async function serverFrames(lib, onConnection) {
  const net = require('net');
  const server = lib.createServer(onConnection);
  await within(5000, 'listening', (resolve) => server.listen(0, '127.0.0.1', resolve));
  const raw = net.connect(server.socket.address().port, '127.0.0.1');
  raw.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  let buf = Buffer.alloc(0);
  let upgraded = false;
  const frames = [];
  await within(5000, 'the close frame', (resolve) => {
    raw.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        assert.equal(buf.subarray(0, 12).toString(), 'HTTP/1.1 101');
        buf = buf.subarray(end + 4);
        upgraded = true;
      }
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1] & 127;
        let at = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); at = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); at = 10; }
        if (buf.length < at + len) return;
        frames.push([buf[0] >> 7, buf[0] & 15, len]);
        const opcode = buf[0] & 15;
        buf = buf.subarray(at + len);
        if (opcode === 8) return resolve();
      }
    });
  });
  raw.destroy();
  for (const conn of server.connections) conn.socket.destroy ? conn.socket.destroy() : conn._core.terminate(conn.socket);
  await within(5000, 'server close', (resolve) => server.close(resolve));
  return frames;
}

test('server: beginBinary frames as the package frames them (setBinaryFragmentation), text and ping frames too', async () => {
  const scenario = (conn) => {
    conn.sendText('hello');
    const out = conn.beginBinary();
    for (const n of [300, 300, 300, 2000, 10, 5]) out.write(Buffer.alloc(n, 1));
    out.end(Buffer.alloc(7, 2));
    out.on('finish', () => {
      conn.sendBinary(Buffer.alloc(70000));
      conn.sendPing('p');
      conn.close(1000, 'done');
    });
  };
  real.setBinaryFragmentation(1000);
  ours.setBinaryFragmentation(1000);
  try {
    const expected = await serverFrames(real, scenario);
    const actual = await serverFrames(ours, scenario);
    assert.deepEqual(actual, expected);
    // Writes gathered until 1000 bytes (2900 here), the rest (22) with fin; then the others.
    assert.deepEqual(expected, [[1, 1, 5], [0, 2, 2900], [1, 0, 22], [1, 2, 70000], [1, 9, 1], [1, 8, 6]]);
  } finally {
    real.setBinaryFragmentation(512 * 1024);
    ours.setBinaryFragmentation(512 * 1024);
  }
});

/**
 * In one process, which comes first: the server's 'connection' or the client's 'connect'.
 * The package writes the 101 and emits 'connection' in the same turn, so the client,
 * which needs the 101 first, always comes second (tests written against it rely on this:
 * the client's callback reads what the server's 'connection' listener stored).
 */
async function connectionOrder(serverLib, rounds, options, clientOptions) {
  const orders = [];
  let order = null;
  const server = serverLib.createServer(options, (conn) => {
    order.push(['server', 'connection', conn.protocol ?? null]);
    conn.sendText('first'); // sent from the 'connection' listener: must reach the client
  });
  await within(5000, 'listening', (resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.socket.address().port;
  try {
    for (let i = 0; i < rounds; i++) {
      order = [];
      orders.push(order);
      await within(5000, 'a text from the server', (resolve) => {
        const client = real.connect(`ws://127.0.0.1:${port}`, clientOptions, () => order.push(['client', 'connect', client.protocol ?? null]));
        client.once('text', (text) => {
          order.push(['client', 'text', text]);
          client.close(1000);
          resolve();
        });
      });
    }
  } finally {
    await within(5000, 'server close', (resolve) => server.close(resolve));
  }
  return orders;
}

test('server: its \'connection\' comes before the client in the same process has its \'connect\' (with and without a subprotocol)', async () => {
  for (const [options, clientOptions] of [[{}, {}], [{ validProtocols: ['b'] }, { protocols: ['a', 'b'] }]]) {
    const expected = await connectionOrder(real, 30, options, clientOptions);
    const protocol = clientOptions.protocols ? 'b' : null;
    assert.deepEqual(expected[0], [['server', 'connection', protocol], ['client', 'connect', protocol], ['client', 'text', 'first']]);
    assert.deepEqual(await connectionOrder(ours, 30, options, clientOptions), expected);
  }
});

/**
 * A binary message streamed with beginBinary(): the receiver's InStream gets each frame
 * when it arrives, as the package's does. The sender writes one fragment (1000 bytes at
 * setBinaryFragmentation(1000)) and ends the message only once the receiver answered that
 * it read it (or after 1 s without an answer, which then shows in the transcript).
 */
async function frameByFrame(serverLib, clientLib, sender) {
  const log = [];
  const timers = [];
  let finished;
  const allDone = new Promise((resolve) => { finished = resolve; });
  const play = (conn, who) => {
    if (who === sender) {
      const out = conn.beginBinary();
      out.write(Buffer.alloc(1000, 1));
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        out.end(Buffer.alloc(500, 2));
      };
      conn.once('text', (text) => {
        log.push([who, 'text', text]);
        end();
      });
      timers.push(setTimeout(() => {
        log.push([who, 'no answer after 1 s']);
        end();
      }, 1000));
    } else {
      conn.once('binary', (inStream) => {
        log.push([who, 'binary']);
        let answered = false;
        inStream.on('data', (d) => {
          log.push([who, 'data', d.length]);
          if (!answered) conn.sendText(`read ${d.length}`);
          answered = true;
        });
        inStream.on('end', () => {
          log.push([who, 'end']);
          finished();
        });
      });
    }
  };
  real.setBinaryFragmentation(1000);
  ours.setBinaryFragmentation(1000);
  const server = serverLib.createServer((conn) => play(conn, 'server'));
  try {
    await within(5000, 'listening', (resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = clientLib.connect(`ws://127.0.0.1:${server.socket.address().port}`, () => play(client, 'client'));
    await within(5000, 'the message\'s end', (resolve) => allDone.then(resolve));
    client.close(1000);
    return log;
  } finally {
    for (const timer of timers) clearTimeout(timer);
    real.setBinaryFragmentation(512 * 1024);
    ours.setBinaryFragmentation(512 * 1024);
    await within(5000, 'server close', (resolve) => server.close(resolve));
  }
}

for (const sender of ['client', 'server']) {
  const receiver = sender === 'client' ? 'server' : 'client';
  test(`${receiver}: a binary message streamed in frames is read frame by frame as they arrive (the ${sender} sends)`, async () => {
    const expected = await frameByFrame(real, real, sender);
    assert.deepEqual(expected, [
      [receiver, 'binary'], [receiver, 'data', 1000], [sender, 'text', 'read 1000'], [receiver, 'data', 500], [receiver, 'end'],
    ]);
    const actual = sender === 'client' ? await frameByFrame(ours, real, sender) : await frameByFrame(real, ours, sender);
    assert.deepEqual(actual, expected);
  });
}

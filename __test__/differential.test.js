'use strict';
// Differential tests: every scenario runs against ws's own WebSocketServer and
// against lws.WebSocketServer (and, where the scenario means something for the
// node-lws API, against lws.Server), in each server mode where it applies
// (port, server: attached to an http.Server, noServer: handleUpgrade from the
// user's 'upgrade' listener). The transcripts of everything observable on both
// ends must be deep-equal. The scenarios come from ws 8's documented API and
// RFC 6455, not from ws's test suite. See helpers/differential.js.
//
// Run: node --test __test__/differential.test.js
// Self-check (ws against ws, must pass): LWS_DIFF_CANDIDATE=ws node --test __test__/differential.test.js
// Engine on the JS thread: LWS_TEST_THREADS=0 (ENGINE_OPTIONS); every pair of transcripts
// to a file: LWS_DIFF_DUMP=/tmp/transcripts.jsonl.

const http = require('node:http');
const net = require('node:net');
const {
  differential,
  MODES,
  KEY,
  frame,
  closePayload,
  describeData,
  describeError,
  describeRequest,
  upgradeRequest,
  badFrameScenario,
  settleable,
  sleep,
} = require('./helpers/differential');

const CORE_MODES = ['port', 'server'];
const BIG = 5 * 1024 * 1024;

/** An echo handler: what the server side receives goes back with the same type. */
const echo = (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));

/** Resolves when `emitter` emits `event` with arguments matching `predicate` (bounded by run.settle). */
function nextEvent(emitter, event, predicate = () => true) {
  return new Promise((resolve) => {
    const on = (...args) => {
      if (!predicate(...args)) return;
      emitter.removeListener(event, on);
      resolve(args);
    };
    emitter.on(event, on);
  });
}

/** Resolves after `n` 'message' events on `ws` (counted from now). */
function messages(ws, n) {
  return new Promise((resolve) => {
    let seen = 0;
    const on = () => {
      if (++seen < n) return;
      ws.removeListener('message', on);
      resolve();
    };
    ws.on('message', on);
  });
}

/** A raw upgrade: records the response; if it is a 101, closes cleanly (1000) and records the server's close reply. */
async function rawHandshake(run, request, actor = 'raw') {
  const raw = run.raw();
  raw.write(request);
  const response = await raw.response();
  run.log(actor, { ev: 'response', ...response });
  if (response.status && /^HTTP\/1\.[01] 101 /.test(response.status)) {
    raw.write(frame(8, closePayload(1000, 'raw bye')));
    run.log(actor, { ev: 'after close frame', ...(await raw.untilEnd()) });
    await run.serverSocketsClosed();
  }
  return response;
}

/**
 * Connects one ws client to the running server: { client, serverWs }, or null when
 * either end did not open (the transcript then says why).
 */
async function connectPair(run) {
  const client = run.client('/');
  const serverWs = await run.connection();
  if (!(await run.opened(client)) || !serverWs) return null;
  return { client, serverWs };
}

// ---- 1-5: messages and the close handshake ----------------------------------------------------

differential('1. echo: client sends two messages then close(4000, "bye"): both echoes, then the close', {
  core: CORE_MODES,
  scenario: async (run) => {
    await run.server({}, { onConnection: echo });
    const client = run.client('/');
    if (!(await run.opened(client))) return;
    client.send('first');
    client.send(Buffer.from([1, 2, 3]));
    client.close(4000, 'bye');
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

differential('2. server sends a, b then close(4001, "done") on connection', {
  core: CORE_MODES,
  scenario: async (run) => {
    await run.server({}, {
      onConnection: (ws) => {
        ws.send('a');
        ws.send('b');
        ws.close(4001, 'done');
      },
    });
    const client = run.client('/');
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

const CLOSES = [
  ['client close(4000, reason)', (c) => c.close(4000, 'client reason'), null],
  ['client close() without a code (1005)', (c) => c.close(), null],
  ['client close(1001) with a code only', (c) => c.close(1001), null],
  ['server close(4001, reason)', null, (ws) => ws.close(4001, 'server reason')],
  ['server close() without a code (1005)', null, (ws) => ws.close()],
  ['server close(4002) with a code only', null, (ws) => ws.close(4002)],
  ['client terminate()', (c) => c.terminate(), null],
  ['server terminate()', null, (ws) => ws.terminate()],
];

for (const [name, clientAction, serverAction] of CLOSES) {
  differential(`3. close: ${name}`, {
    core: CORE_MODES,
    scenario: async (run) => {
      await run.server({});
      const pair = await connectPair(run);
      if (pair === null) return;
      const { client, serverWs } = pair;
      if (clientAction) clientAction(client);
      if (serverAction) serverAction(serverWs);
      await run.closed(client, 'client close');
      await run.serverSocketsClosed();
    },
  });
}

// TCP after the close handshake (RFC 6455 7.1.1): the server ends its side (FIN) once both
// close frames are exchanged, and 'close' does not wait for the client's FIN. A raw client
// answers the close frame, holds its FIN back, and writes past the close: ws resets that.
const TEARDOWNS = [
  ['the server closes first', async (run, raw, serverWs) => {
    serverWs.close(4001, 'bye');
    run.log('raw', { ev: 'frames', frames: await raw.frames(7) });
    raw.write(frame(8, closePayload(4001, 'bye')));
  }],
  ['the client closes first', async (run, raw) => {
    raw.write(frame(8, closePayload(4000, 'bye')));
    run.log('raw', { ev: 'frames', frames: await raw.frames(7) });
  }],
];

for (const [name, closeHandshake] of TEARDOWNS) {
  differential(`3b. TCP teardown when ${name}: server FIN after both close frames, 'close' before the client's FIN, bytes past the close reset`, {
    core: CORE_MODES,
    scenario: async (run) => {
      await run.server({});
      const raw = run.raw();
      raw.write(upgradeRequest());
      run.log('raw', { ev: 'response', status: (await raw.head()).status });
      const serverWs = await run.connection();
      if (!serverWs) return;
      await closeHandshake(run, raw, serverWs);
      await raw.until(() => raw.ended, 3000);
      run.log('raw', { ev: 'server FIN', ended: raw.ended, closed: raw.closed, error: raw.error });
      // Bytes after the close frame are ignored; a descriptor already closed would answer them with a reset.
      raw.write(frame(1, 'after the close'));
      await sleep(300);
      run.log('raw', { ev: '300 ms after writing past the close', closed: raw.closed, error: raw.error });
      raw.end();
      await run.serverSocketsClosed();
      await raw.until(() => raw.closed, 3000);
      run.log('raw', { ev: 'after FIN', closed: raw.closed, error: raw.error, unread: raw.buffer.length });
    },
  });
}

differential('4. simultaneous close: both sides call close() in the same tick', {
  core: CORE_MODES,
  scenario: async (run) => {
    await run.server({});
    const pair = await connectPair(run);
    if (pair === null) return;
    const { client, serverWs } = pair;
    serverWs.close(4001, 'server first');
    client.close(4000, 'client first');
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

const big = (fill) => Buffer.alloc(BIG, fill);

differential('5a. large message in flight: client sends 5 MB then close(4000), server echoes', {
  core: CORE_MODES,
  scenario: async (run) => {
    await run.server({}, { onConnection: echo });
    const client = run.client('/');
    if (!(await run.opened(client))) return;
    client.send(big(0x61));
    client.close(4000, 'after big');
    await run.closed(client, 'client close', 10000);
    await run.serverSocketsClosed(10000);
  },
});

differential('5b. large message in flight: server sends 5 MB then close(4001), client echoes', {
  core: CORE_MODES,
  scenario: async (run) => {
    await run.server({}, {
      onConnection: (ws) => {
        ws.send(big(0x62));
        ws.close(4001, 'after big');
      },
    });
    const client = run.client('/');
    client.on('message', (data, isBinary) => client.send(data, { binary: isBinary }));
    await run.closed(client, 'client close', 10000);
    await run.serverSocketsClosed(10000);
  },
});

differential('5c. large messages both ways, both sides close in the same tick', {
  core: CORE_MODES,
  scenario: async (run) => {
    await run.server({});
    const pair = await connectPair(run);
    if (pair === null) return;
    const { client, serverWs } = pair;
    serverWs.send(big(0x63));
    client.send(big(0x64));
    serverWs.close(4001, 'server');
    client.close(4000, 'client');
    await run.closed(client, 'client close', 10000);
    await run.serverSocketsClosed(10000);
  },
});

// ---- 6: malformed upgrades (raw TCP) ------------------------------------------------------------

const LISTENER_BODY = 'handled by the wsClientError listener';
const LISTENER_RESPONSE =
  'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n' +
  `Content-Length: ${LISTENER_BODY.length}\r\nX-Handled-By: wsClientError\r\n\r\n${LISTENER_BODY}`;

/**
 * [name, request options for upgradeRequest, server options, modes]. Node's http parser
 * treats a request as an upgrade only with both `Upgrade` and `Connection: upgrade`, so
 * without either, ws (port mode) answers from its http server's 'request' listener (426).
 */
const MALFORMED = [
  ['non-GET method (POST)', { method: 'POST' }],
  ['missing Upgrade header', { headers: { Upgrade: undefined } }],
  ['invalid Upgrade header (h2c)', { headers: { Upgrade: 'h2c' } }],
  ['missing Connection header', { headers: { Connection: undefined } }],
  ['missing Sec-WebSocket-Key', { headers: { 'Sec-WebSocket-Key': undefined } }],
  ['invalid Sec-WebSocket-Key (8 bytes)', { headers: { 'Sec-WebSocket-Key': 'c2hvcnRrZXk=' } }],
  ['invalid Sec-WebSocket-Key (24 chars, no padding)', { headers: { 'Sec-WebSocket-Key': 'AAAAAAAAAAAAAAAAAAAAAAAA' } }],
  ['missing Sec-WebSocket-Version', { headers: { 'Sec-WebSocket-Version': undefined } }],
  ['unsupported Sec-WebSocket-Version: 12', { headers: { 'Sec-WebSocket-Version': '12' } }],
  ['invalid Sec-WebSocket-Version: abc', { headers: { 'Sec-WebSocket-Version': 'abc' } }],
  ['duplicated subprotocol (chat, chat)', { headers: { 'Sec-WebSocket-Protocol': 'chat, chat' } }],
  ['invalid subprotocol token (ch@t)', { headers: { 'Sec-WebSocket-Protocol': 'ch@t' } }],
  ['empty subprotocol in the list (chat,,superchat)', { headers: { 'Sec-WebSocket-Protocol': 'chat,,superchat' } }],
  ['invalid Sec-WebSocket-Extensions parameter (perMessageDeflate on)', { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=foo' } }, { perMessageDeflate: true }],
  ['unparseable Sec-WebSocket-Extensions (perMessageDeflate on)', { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate;;' } }, { perMessageDeflate: true }],
  ['two Sec-WebSocket-Key headers', { headers: { 'Sec-WebSocket-Key': [KEY, 'AQIDBAUGBwgJCgsMDQ4PEA=='] } }],
  ['Upgrade header with two tokens (websocket, foo)', { headers: { Upgrade: 'websocket, foo' } }],
  ['path mismatch with the path option', { path: '/other' }, { path: '/chat' }],
  ['plain GET without upgrade headers', { headers: { Upgrade: undefined, Connection: undefined, 'Sec-WebSocket-Key': undefined, 'Sec-WebSocket-Version': undefined } }, {}, ['port']],
  // Valid requests that ws accepts: the 101 and a clean close are recorded.
  ['valid: no Host header', { headers: { Host: undefined } }],
  ['valid: HTTP/1.0 upgrade request', { version: '1.0' }],
  ['valid: Upgrade: WebSocket, Connection: keep-alive, Upgrade', { headers: { Upgrade: 'WebSocket', Connection: 'keep-alive, Upgrade' } }],
  ['valid: path option and a query string', { path: '/chat?room=1' }, { path: '/chat' }],
];

for (const [name, request, options = {}, modes = MODES] of MALFORMED) {
  for (const withListener of [false, true]) {
    differential(`6. upgrade: ${name}${withListener ? ', with a wsClientError listener' : ''}`, {
      modes,
      scenario: async (run) => {
        await run.server(options, {
          onServer: (wss) => {
            if (!withListener) return;
            wss.on('wsClientError', (err, socket, req) => {
              run.log('server', {
                ev: 'wsClientError',
                message: err.message,
                isError: err instanceof Error,
                socketIsNetSocket: socket instanceof net.Socket,
                request: describeRequest(req),
              });
              socket.end(LISTENER_RESPONSE);
            });
          },
        });
        await rawHandshake(run, upgradeRequest(request));
      },
    });
  }
}

// ---- 7: Sec-WebSocket-Version: 8 ----------------------------------------------------------------

differential('7. Sec-WebSocket-Version: 8 client: 101, then a masked frame is echoed, then a clean close', {
  scenario: async (run) => {
    await run.server({}, { onConnection: echo });
    const raw = run.raw();
    raw.write(upgradeRequest({ headers: { 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Origin': 'http://v8.example' } }));
    const response = await raw.response();
    run.log('raw', { ev: 'response', ...response });
    if (!/^HTTP\/1\.1 101 /.test(response.status || '')) return;
    raw.write(frame(1, 'hello v8'));
    run.log('raw', { ev: 'reply', frames: await raw.frames(2 + 8) });
    raw.write(frame(8, closePayload(1000, 'v8 bye')));
    run.log('raw', { ev: 'after close frame', ...(await raw.untilEnd()) });
    await run.serverSocketsClosed();
  },
});

// ---- 8: verifyClient ------------------------------------------------------------------------------

function recordInfo(run, info) {
  run.log('server', {
    ev: 'verifyClient',
    keys: Object.keys(info),
    origin: info.origin,
    secure: info.secure,
    reqIsIncomingMessage: info.req instanceof http.IncomingMessage,
    method: info.req && info.req.method,
    url: info.req && info.req.url,
  });
}

const VERIFY = [
  ['sync, returns true', (run) => (info) => (recordInfo(run, info), true)],
  ['sync, returns false (401)', (run) => (info) => (recordInfo(run, info), false)],
  ['async, cb(false, 403, "Nope", { "X-Why": "test" })', (run) => (info, cb) => {
    recordInfo(run, info);
    setImmediate(() => cb(false, 403, 'Nope', { 'X-Why': 'test' }));
  }],
  ['async, cb(false) without a code (401)', (run) => (info, cb) => {
    recordInfo(run, info);
    setImmediate(() => cb(false));
  }],
  ['async, cb(true)', (run) => (info, cb) => {
    recordInfo(run, info);
    setImmediate(() => cb(true));
  }],
];

for (const [name, makeVerify] of VERIFY) {
  differential(`8. verifyClient ${name}`, {
    scenario: async (run) => {
      await run.server({ verifyClient: makeVerify(run) });
      await rawHandshake(run, upgradeRequest({ path: '/verify?x=1', headers: { Origin: 'http://example.test' } }));
    },
  });
}

differential('8. verifyClient: a version 8 client\'s origin comes from Sec-WebSocket-Origin', {
  scenario: async (run) => {
    await run.server({ verifyClient: (info) => (recordInfo(run, info), true) });
    await rawHandshake(run, upgradeRequest({ headers: { 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Origin': 'http://v8.example', Origin: 'http://not-this.example' } }));
  },
});

// ---- 9: handleProtocols and 'headers' -------------------------------------------------------------

function recordProtocols(run, protocols, req) {
  run.log('server', {
    ev: 'handleProtocols',
    protocols: [...protocols],
    isSet: protocols instanceof Set,
    reqIsIncomingMessage: req instanceof http.IncomingMessage,
    url: req && req.url,
  });
}

differential('9. handleProtocols chooses the second offered protocol', {
  scenario: async (run) => {
    await run.server({ handleProtocols: (protocols, req) => (recordProtocols(run, protocols, req), 'superchat') });
    await rawHandshake(run, upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'chat, superchat' } }));
  },
});

differential('9. handleProtocols returns false: 101 without a protocol', {
  scenario: async (run) => {
    await run.server({ handleProtocols: (protocols, req) => (recordProtocols(run, protocols, req), false) });
    await rawHandshake(run, upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'chat, superchat' } }));
  },
});

differential('9. handleProtocols returns false: the ws client refuses the connection', {
  scenario: async (run) => {
    await run.server({ handleProtocols: () => false });
    const client = run.client('/', ['chat', 'superchat']);
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

differential('9. no handleProtocols: the first offered protocol is chosen (ws client)', {
  scenario: async (run) => {
    await run.server({});
    const client = run.client('/', ['chat', 'superchat']);
    if (!(await run.opened(client))) return;
    client.close(1000);
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

differential("9. 'headers' event: the listener sees the 101's lines and adds its own", {
  scenario: async (run) => {
    await run.server({}, {
      onServer: (wss) => wss.on('headers', (headers, req) => {
        run.log('server', { ev: 'headers', lines: [...headers], isArray: Array.isArray(headers), reqIsIncomingMessage: req instanceof http.IncomingMessage, url: req.url });
        headers.push('Set-Cookie: session=abc; HttpOnly', 'X-Custom: 1');
      }),
    });
    await rawHandshake(run, upgradeRequest({ path: '/h', headers: { 'Sec-WebSocket-Protocol': 'chat' } }));
  },
});

// ---- 10: the request given to 'connection' --------------------------------------------------------

differential("10. 'connection' request: an http.IncomingMessage with method, url, httpVersion, headers, rawHeaders, socket", {
  scenario: async (run) => {
    await run.server({}, {
      onConnection: (ws, req) => run.log('server', {
        ev: 'request',
        isIncomingMessage: req instanceof http.IncomingMessage,
        method: req.method,
        url: req.url,
        httpVersion: req.httpVersion,
        headers: { ...req.headers },
        rawHeaders: [...req.rawHeaders],
        remoteAddressType: typeof (req.socket && req.socket.remoteAddress),
      }),
    });
    await rawHandshake(run, upgradeRequest({
      path: '/room/7?user=ann&x=%20y',
      headers: { 'User-Agent': 'differential/1', 'X-Dup': ['one', 'two'], 'x-lower-case': 'v', Cookie: 'a=1' },
    }));
  },
});

// ---- 11: ping / pong ---------------------------------------------------------------------------------

differential('11. autoPong: false: the server gets the ping, no pong goes out until ws.pong()', {
  scenario: async (run) => {
    await run.server({ autoPong: false });
    const pair = await connectPair(run);
    if (pair === null) return;
    const { client, serverWs } = pair;
    const pinged = nextEvent(serverWs, 'ping');
    client.ping('are you there');
    await run.settle(pinged, 'server ping');
    await sleep(300); // a pong would be back long before
    run.mark('client', 'waited 300 ms after the ping');
    const manual = nextEvent(client, 'pong', (data) => data.toString() === 'manual pong');
    serverWs.pong('manual pong');
    await run.settle(manual, 'the manual pong');
    client.close(1000);
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

differential('11. autoPong default: ping/pong both ways with payloads', {
  core: CORE_MODES,
  scenario: async (run) => {
    await run.server({});
    const pair = await connectPair(run);
    if (pair === null) return;
    const { client, serverWs } = pair;
    const clientPong = nextEvent(client, 'pong');
    client.ping('from client');
    await run.settle(clientPong, 'client pong');
    const serverPong = nextEvent(serverWs, 'pong');
    serverWs.ping('from server');
    await run.settle(serverPong, 'server pong');
    client.ping(); // empty payload
    await run.settle(nextEvent(client, 'pong'), 'client pong (empty)');
    client.close(1000);
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

// ---- 12: createWebSocketStream on the server side --------------------------------------------------

function recordStream(run, duplex) {
  duplex.on('data', (chunk) => run.log('stream', { ev: 'data', data: describeData(chunk, true) }));
  for (const event of ['end', 'finish', 'close']) duplex.on(event, () => run.log('stream', { ev: event }));
  duplex.on('error', (err) => run.log('stream', { ev: 'error', error: describeError(err) }));
}

differential('12. createWebSocketStream: echo through the Duplex, the client closes; then write() and end() on the stream', {
  scenario: async (run) => {
    let duplex;
    await run.server({}, {
      onConnection: (ws) => {
        duplex = run.impl.createWebSocketStream(ws);
        recordStream(run, duplex);
        duplex.on('data', (chunk) => duplex.write(chunk));
      },
    });
    const client = run.client('/');
    if (!(await run.opened(client))) return;
    for (const text of ['one', 'two']) {
      const echoed = messages(client, 1);
      client.send(text);
      await run.settle(echoed, `echo of ${text}`);
    }
    const ended = nextEvent(duplex, 'end');
    client.close(1000, 'client done');
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
    await run.settle(ended, "stream 'end'");
    await sleep(50);
    run.mark('stream', 'write("late") and end()');
    const streamClosed = nextEvent(duplex, 'close');
    duplex.write('late');
    duplex.end();
    await run.settle(streamClosed, "stream 'close'");
    await sleep(50);
  },
});

differential('12. createWebSocketStream: the server ends the Duplex, the client sees the close', {
  scenario: async (run) => {
    let duplex;
    await run.server({}, {
      onConnection: (ws) => {
        duplex = run.impl.createWebSocketStream(ws);
        recordStream(run, duplex);
      },
    });
    const client = run.client('/');
    if (!(await run.opened(client))) return;
    const serverWs = await run.connection();
    if (!serverWs) return;
    const got = nextEvent(duplex, 'data');
    client.send('hello stream');
    await run.settle(got, 'stream data');
    const streamClosed = nextEvent(duplex, 'close');
    duplex.end('last words');
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
    await run.settle(streamClosed, "stream 'close'");
    await sleep(50);
  },
});

// ---- 13: bufferedAmount ------------------------------------------------------------------------------

const DEFLATE_LIKE_WS = { threshold: 0, serverNoContextTakeover: false, clientNoContextTakeover: false };

for (const [name, perMessageDeflate] of [['without perMessageDeflate', false], ['with perMessageDeflate (threshold 0)', DEFLATE_LIKE_WS]]) {
  differential(`13. bufferedAmount after send, after close, after the close event, ${name}`, {
    scenario: async (run) => {
      const amount = (ws, at) => run.log('server', { ev: 'bufferedAmount', at, value: ws.bufferedAmount });
      const callback = (ws, what) => (err) => run.log('server', { ev: 'send callback', what, error: describeError(err), bufferedAmount: ws.bufferedAmount });
      await run.server({ perMessageDeflate }, {
        onConnection: (ws) => {
          amount(ws, 'open');
          ws.send('x'.repeat(100), callback(ws, '100 B text'));
          amount(ws, 'after send(100 B text)');
          ws.send(Buffer.alloc(3000, 7), callback(ws, '3000 B binary'));
          amount(ws, 'after send(3000 B binary)');
        },
      });
      const client = run.client('/');
      const received = messages(client, 2);
      const serverWs = await run.connection();
      if (!(await run.opened(client)) || !serverWs) return;
      await run.settle(received, 'both messages');
      await sleep(20);
      amount(serverWs, 'after the client got both');
      serverWs.close(1000, 'done');
      amount(serverWs, 'after close()');
      serverWs.send('abc', callback(serverWs, 'send while CLOSING'));
      amount(serverWs, 'after send(3 B) while CLOSING');
      await run.closed(client, 'client close');
      await run.serverSocketsClosed();
      amount(serverWs, "after 'close'");
      serverWs.send('defg', callback(serverWs, 'send while CLOSED'));
      amount(serverWs, 'after send(4 B) while CLOSED');
      await sleep(20);
    },
  });
}

// ---- further differences a ws user can observe ------------------------------------------------------

differential('14. permessage-deflate negotiation with perMessageDeflate: true (ws client offer)', {
  scenario: async (run) => {
    await run.server({ perMessageDeflate: true });
    const client = run.client('/');
    if (!(await run.opened(client))) return;
    client.close(1000);
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

for (const [name, perMessageDeflate] of [['perMessageDeflate: true', true], ['both no-context-takeover flags false', { serverNoContextTakeover: false, clientNoContextTakeover: false }]]) {
  differential(`14. permessage-deflate negotiation, raw 101 (${name})`, {
    scenario: async (run) => {
      await run.server({ perMessageDeflate });
      await rawHandshake(run, upgradeRequest({ headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' } }));
    },
  });
}

/**
 * Offers a client can send (a header value, or several header lines): ws answers each with
 * a 101 (its exact Sec-WebSocket-Extensions value, or none) or a 400.
 */
const BITS = [8, 9, 10, 11, 12, 13, 14, 15];
const OFFERS = [
  'permessage-deflate',
  'permessage-deflate; client_max_window_bits',
  'permessage-deflate; server_no_context_takeover',
  'permessage-deflate; client_no_context_takeover',
  ...BITS.map((bits) => `permessage-deflate; server_max_window_bits=${bits}`),
  ...BITS.map((bits) => `permessage-deflate; client_max_window_bits=${bits}`),
  // parameter order is kept; quoted and JS-number values; whitespace
  'permessage-deflate; client_max_window_bits; server_max_window_bits=10; client_no_context_takeover; server_no_context_takeover',
  'permessage-deflate;client_max_window_bits="12"',
  'permessage-deflate ; server_max_window_bits=0x9',
  'permessage-deflate;\tserver_max_window_bits="1\\1"',
  // duplicates, invalid values, unknown parameters
  'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
  'permessage-deflate; client_max_window_bits=10; client_max_window_bits=11',
  'permessage-deflate; server_max_window_bits',
  'permessage-deflate; server_max_window_bits=7',
  'permessage-deflate; client_max_window_bits=16',
  'permessage-deflate; client_no_context_takeover=1',
  'permessage-deflate; mystery',
  // several offers: the first acceptable one; an invalid one anywhere refuses
  'permessage-deflate; server_max_window_bits=10, permessage-deflate',
  'permessage-deflate; server_no_context_takeover, permessage-deflate; client_max_window_bits',
  'permessage-deflate, permessage-deflate; mystery',
  // other extensions
  'x-webkit-deflate-frame',
  'foo; bar="baz", Permessage-Deflate',
  'foo, permessage-deflate; client_max_window_bits=9',
  ['foo; bar', 'permessage-deflate; server_max_window_bits=11'],
  // unparseable
  '',
  'permessage-deflate,',
  'permessage-deflate; a="b',
  'permessage-deflate; a=b c',
];

const DEFLATE_OPTIONS = [
  ['perMessageDeflate: true', true],
  ['both no-context-takeover flags true', { serverNoContextTakeover: true, clientNoContextTakeover: true }],
  ['serverNoContextTakeover false, serverMaxWindowBits 10', { serverNoContextTakeover: false, serverMaxWindowBits: 10 }],
  ['clientMaxWindowBits 12', { clientMaxWindowBits: 12 }],
  ['serverMaxWindowBits false, clientMaxWindowBits false', { serverMaxWindowBits: false, clientMaxWindowBits: false }],
  ['perMessageDeflate: false', false],
];

for (const [name, perMessageDeflate] of DEFLATE_OPTIONS) {
  differential(`14. permessage-deflate negotiation, ${OFFERS.length} raw offers, one connection each (${name})`, {
    scenario: async (run) => {
      await run.server({ perMessageDeflate });
      for (const offer of OFFERS) {
        run.log('raw', { ev: 'offer', offer });
        await rawHandshake(run, upgradeRequest({ headers: { 'Sec-WebSocket-Extensions': offer } }));
      }
    },
  });
}

differential("14. permessage-deflate: the 'headers' listener sees the Sec-WebSocket-Extensions line, and the wsClientError listener a refused offer", {
  scenario: async (run) => {
    await run.server({ perMessageDeflate: { clientMaxWindowBits: 11 } }, {
      onServer: (wss) => {
        wss.on('headers', (lines) => {
          run.log('server', { ev: 'headers', lines: [...lines] });
          lines.push('X-Seen: yes');
        });
        wss.on('wsClientError', (err, socket) => {
          run.log('server', { ev: 'wsClientError', message: err.message, socketIsNetSocket: socket instanceof net.Socket });
          socket.end(LISTENER_RESPONSE);
        });
      },
    });
    await rawHandshake(run, upgradeRequest({ headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits', 'Sec-WebSocket-Protocol': 'chat' } }));
    await rawHandshake(run, upgradeRequest({ headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } })); // no client_max_window_bits: refused
  },
});

/** ws client offers, and server options: what is agreed must work both ways, with and without context takeover. */
const CLIENT_OFFERS = [
  ['default offer', {}],
  ['no context takeover both ways, small windows', { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 10 }],
  ['server_max_window_bits=8', { serverMaxWindowBits: 8 }],
  ['client_max_window_bits=8', { clientMaxWindowBits: 8 }],
];
/** 2000 pseudo-random letters, three times: back-references reach past a 9- or 10-bit window. */
let lcg = 1;
const TEXT = Array.from({ length: 2000 }, () => String.fromCharCode(97 + ((lcg = (lcg * 48271) % 2147483647) % 26))).join('').repeat(3);

for (const [serverName, perMessageDeflate] of [['perMessageDeflate: true', true], ['both no-context-takeover flags true, threshold 100', { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 100 }]]) {
  for (const [clientName, clientDeflate] of CLIENT_OFFERS) {
    differential(`14. permessage-deflate echo: ws client (${clientName}), server (${serverName})`, {
      scenario: async (run) => {
        await run.server({ perMessageDeflate }, { onConnection: echo });
        const client = run.client('/', undefined, { perMessageDeflate: clientDeflate });
        if (!(await run.opened(client))) return;
        const received = messages(client, 4);
        client.send(TEXT);
        client.send(TEXT); // with context takeover, mostly a back-reference into the first
        client.send('small');
        client.send(Buffer.alloc(70000, 'ab'));
        await run.settle(received, 'four echoes');
        client.close(1000);
        await run.closed(client, 'client close');
        await run.serverSocketsClosed();
      },
    });
  }
}

differential('15. a frame sent in the same packet as the upgrade request (head) is delivered', {
  scenario: async (run) => {
    await run.server({}, { onConnection: echo });
    const raw = run.raw();
    raw.write(Buffer.concat([Buffer.from(upgradeRequest()), frame(1, 'pipelined')]));
    const response = await raw.response();
    run.log('raw', { ev: 'response', ...response });
    if (!/^HTTP\/1\.1 101 /.test(response.status || '')) return;
    run.log('raw', { ev: 'reply', frames: await raw.frames(2 + 9) });
    raw.write(frame(8, closePayload(1000)));
    run.log('raw', { ev: 'after close frame', ...(await raw.untilEnd()) });
    await run.serverSocketsClosed();
  },
});

const PROTOCOL_ERRORS = [
  ['a message over maxPayload (1009)', { maxPayload: 10 }, frame(1, 'x'.repeat(11))],
  ['invalid UTF-8 in a text message (1007)', {}, frame(1, Buffer.from([0x68, 0xc3, 0x28]))],
  ['an unmasked frame (1002)', {}, frame(1, 'hi', { mask: false })],
  ['a close frame with code 999 (1002)', {}, frame(8, Buffer.from([0x03, 0xe7]))],
  // Errors whose message names a number (ws words it; the engine sends the number).
  ['a reserved opcode 3 (1002)', {}, frame(3, 'x')],
  ['a continuation frame with no message to continue (1002)', {}, frame(0, 'x')],
  ['a new text frame inside a fragmented message (1002)', {}, Buffer.concat([frame(2, 'a', { fin: false }), frame(1, 'b')])],
  ['a ping with a 126-byte payload (1002)', {}, frame(9, 'p'.repeat(126))],
  ['a close frame with a 1-byte payload (1002)', {}, frame(8, Buffer.from([3]))],
  ['a fragmented ping (1002)', {}, frame(9, 'p', { fin: false })],
  ['RSV1 without permessage-deflate (1002)', {}, frame(1, 'x', { rsv1: true })],
  ['RSV2 set (1002)', {}, (() => { const f = frame(1, 'x'); f[0] |= 0x20; return f; })()],
];

for (const [name, options, bytes] of PROTOCOL_ERRORS) {
  differential(`16. protocol error: ${name}, raw bytes of the server's answer`, {
    scenario: badFrameScenario(options, bytes),
  });
}

differential('17. server-side API misuse throws as in ws (close codes, reason and control frame sizes)', {
  scenario: async (run) => {
    await run.server({}, {
      onConnection: (ws) => {
        // Only calls that throw in ws: one that closed would end the list early.
        const attempts = [
          ['ping(126 bytes)', () => ws.ping(Buffer.alloc(126))],
          ['pong(126 bytes)', () => ws.pong(Buffer.alloc(126))],
          ['ping(126-byte string)', () => ws.ping('p'.repeat(126))],
          ['close(999)', () => ws.close(999)],
          ['close(1004)', () => ws.close(1004)],
          ['close(1005)', () => ws.close(1005)],
          ['close(1006)', () => ws.close(1006)],
          ['close(5000)', () => ws.close(5000)],
          ['close("1000")', () => ws.close('1000')],
          ['close(1000, 124-byte reason)', () => ws.close(1000, 'r'.repeat(124))],
          ['close(1000, 62 two-byte characters)', () => ws.close(1000, 'é'.repeat(62))],
        ];
        for (const [call, fn] of attempts) {
          try {
            fn();
            run.log('server', { ev: 'call', call, threw: null, readyState: ws.readyState });
          } catch (err) {
            run.log('server', { ev: 'call', call, threw: describeError(err), readyState: ws.readyState });
          }
        }
        ws.close(1000, 'r'.repeat(123));
      },
    });
    const client = run.client('/');
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

differential('18. pause(): messages and the close frame wait for resume(), then arrive in order', {
  scenario: async (run) => {
    await run.server({}, {
      onConnection: (ws) => {
        ws.pause();
        run.log('server', { ev: 'paused', isPaused: ws.isPaused });
      },
    });
    const pair = await connectPair(run);
    if (pair === null) return;
    const { client, serverWs } = pair;
    client.send('while paused 1');
    client.send('while paused 2');
    client.ping('ping while paused');
    client.close(4000, 'closed while paused');
    await sleep(200);
    run.mark('server', 'resume()');
    serverWs.resume();
    run.log('server', { ev: 'resumed', isPaused: serverWs.isPaused });
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

differential("19. wss.close(): open clients stay and still work, new upgrades are refused; when 'close' and the callback come", {
  scenario: async (run) => {
    const wss = await run.server({}, {
      onConnection: (ws) => {
        echo(ws);
        run.log('server', { ev: 'clients at connection', size: run.wss.clients.size, has: run.wss.clients.has(ws) });
        ws.on('close', () => run.log('server', { ev: 'clients at close', size: run.wss.clients.size, has: run.wss.clients.has(ws) }));
      },
    });
    const pair = await connectPair(run);
    if (pair === null) return;
    const { client, serverWs } = pair;
    const wssClosed = nextEvent(wss, 'close');
    wss.on('close', () => run.log('server', { ev: 'wss close' }));
    wss.close((err) => run.log('server', { ev: 'wss.close callback', error: describeError(err) }));
    run.log('server', { ev: 'after wss.close()', clients: wss.clients.size });
    const echoed = messages(client, 1);
    client.send('still here');
    await run.settle(echoed, 'echo after wss.close()');
    const raw = run.raw();
    raw.write(upgradeRequest());
    run.log('raw', { ev: 'new upgrade after wss.close()', ...(await raw.response()) });
    client.close(1000, 'last client');
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
    await run.settle(wssClosed, "wss 'close'");
    await sleep(20);
  },
});

differential('20. handleUpgrade(): when the callback runs, and with which request', {
  modes: ['noServer'],
  scenario: async (run) => {
    await run.server({}, {
      onUpgrade: (wss, req, socket, head) => {
        let returned = false;
        wss.handleUpgrade(req, socket, head, (ws, request) => {
          run.log('server', { ev: 'handleUpgrade callback', beforeReturn: !returned, sameRequest: request === req, readyState: ws.readyState });
          wss.emit('connection', ws, request);
        });
        returned = true;
      },
    });
    const client = run.client('/');
    if (!(await run.opened(client))) return;
    client.close(1000);
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

/**
 * A noServer scenario around the socket handleUpgrade() was given: `onAccepted(run,
 * { wss, ws, request, socket })` runs in handleUpgrade()'s callback; the client opens,
 * and the scenario waits for the connection to end on both sides.
 */
function handedOver(onAccepted) {
  return async (run) => {
    await run.server({}, {
      onUpgrade: (wss, req, socket, head) => {
        wss.handleUpgrade(req, socket, head, (ws, request) => onAccepted(run, { wss, ws, request, socket }));
      },
    });
    const client = run.client('/');
    if (!(await run.opened(client))) return;
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  };
}

differential('21. handleUpgrade(): the socket it was given, destroyed after the upgrade, drops the connection', {
  modes: ['noServer'],
  scenario: handedOver((run, { wss, ws, request, socket }) => {
    wss.emit('connection', ws, request);
    // As engine.io does when its own handshake fails after the upgrade.
    setTimeout(() => {
      socket.destroy();
      run.log('server', { ev: 'socket.destroy()', readyState: ws.readyState });
    }, 20);
  }),
});

differential("22. handleUpgrade(): the socket it was given emits 'close' when the connection ends, around the WebSocket's 'close'", {
  modes: ['noServer'],
  scenario: async (run) => {
    const sockets = [];
    await run.server({}, {
      onUpgrade: (wss, req, socket, head) => {
        const i = sockets.push(socket) - 1;
        let ws = null;
        const state = () => (ws === null ? null : ws.readyState);
        // engine.io's middlewares listen here (pino-http logs the upgrade's response then).
        socket.on('close', (hadError) => run.log('server', { ev: 'socket close (listener before handleUpgrade)', i, hadError, readyState: state() }));
        wss.handleUpgrade(req, socket, head, (websocket, request) => {
          ws = websocket;
          socket.on('close', (hadError) => run.log('server', { ev: 'socket close (listener in the callback)', i, hadError, readyState: state() }));
          wss.emit('connection', websocket, request);
        });
      },
    });
    const ends = ['client close', 'client terminate', 'server close', 'server socket.destroy()', 'server terminate'];
    for (const end of ends) {
      const client = run.client('/');
      if (!(await run.opened(client))) return;
      await sleep(30);
      run.log('server', { ev: end });
      if (end === 'client close') client.close(1000);
      else if (end === 'client terminate') client.terminate();
      else if (end === 'server close') (await run.connection(sockets.length - 1)).close(1000);
      else if (end === 'server socket.destroy()') sockets[sockets.length - 1].destroy();
      else (await run.connection(sockets.length - 1)).terminate();
      await run.closed(client, 'client close');
      await run.serverSocketsClosed();
      await sleep(30);
    }
  },
});

differential("23. what 'connection' sends reaches the client before the client's first reply reaches the server", {
  scenario: async (run) => {
    // ws writes the 101 and what a 'connection' listener sends in one turn: a client
    // that replies on 'open' has the server's greeting before the server has the
    // reply. A late greeting lost that race now and then, most often on a server's
    // first connection: a new server each time.
    for (let i = 0; i < 8; i++) {
      let greeted = false;
      const reply = settleable();
      await run.server({}, {
        onConnection: (ws) => {
          ws.send(`hello ${i}`);
          ws.once('message', () => {
            run.log('server', { ev: 'first reply', i, clientHadGreeting: greeted });
            reply.resolve();
          });
        },
      });
      const client = run.client('/');
      client.on('open', () => client.send('hi'));
      client.on('message', () => { greeted = true; });
      if (!(await run.opened(client)) || !(await run.connection(i))) return;
      await run.settle(reply.promise, 'first reply');
      client.close(1000);
      await run.closed(client, 'client close');
      await run.serverSocketsClosed();
    }
  },
});

differential('24. handleUpgrade() with a request object made by hand (method, url and headers only)', {
  modes: ['noServer'],
  scenario: async (run) => {
    // ws reads req.headers alone: code that injects upgrades (or tests) builds the
    // request itself, without rawHeaders.
    await run.server({}, {
      onConnection: echo,
      onUpgrade: (wss, req, socket, head) => {
        const made = { method: req.method, url: req.url, headers: { ...req.headers } };
        wss.handleUpgrade(made, socket, head, (ws, request) => {
          run.log('server', { ev: 'callback', sameRequest: request === made });
          wss.emit('connection', ws, request);
        });
      },
    });
    const client = run.client('/');
    if (!(await run.opened(client))) return;
    client.send('ping me back');
    await run.settle(messages(client, 1), 'echo');
    client.close(1000);
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

differential("25. the http server counts its WebSocket connections: close()'s callback waits for them", {
  modes: ['server', 'noServer'],
  scenario: async (run) => {
    // ws runs on the http server's own socket, still one of its connections:
    // getConnections() counts it and close() calls back once it is gone
    // (fastify.close() waits for its WebSockets so).
    let httpServer = null;
    await run.server({}, { onConnection: (ws, req) => { httpServer = req.socket.server; } });
    const client = run.client('/');
    if (!(await run.opened(client)) || !(await run.connection(0))) return;
    const count = () => new Promise((resolve) => httpServer.getConnections((err, n) => resolve(err ? err.message : n)));
    run.log('server', { ev: 'getConnections', n: await count() });
    const httpClosed = settleable();
    httpServer.close(() => {
      run.log('server', { ev: 'http server close callback' });
      httpClosed.resolve();
    });
    await sleep(100);
    run.log('server', { ev: 'client closes' });
    client.close(1000);
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
    await run.settle(httpClosed.promise, 'http server close');
  },
});

differential('26. handleUpgrade(): what is written to the socket it was given goes out unframed, in order with the frames', {
  modes: ['noServer'],
  scenario: async (run) => {
    await run.server({}, {
      onUpgrade: (wss, req, socket, head) => {
        wss.handleUpgrade(req, socket, head, (ws, request) => {
          wss.emit('connection', ws, request);
          ws.send('one');
          // A whole text frame written by hand, between two of the WebSocket's.
          const wrote = socket.write(Buffer.from([0x81, 0x03, 0x74, 0x77, 0x6f]), (err) => run.log('server', { ev: 'write callback', error: err ? err.code : null }));
          run.log('server', { ev: 'socket.write', writable: socket.writable, wrote });
          ws.send('three');
        });
      },
    });
    const client = run.client('/');
    const three = settleable();
    let messages = 0;
    client.on('message', () => { if (++messages === 3) three.resolve(); });
    if (!(await run.opened(client))) return;
    await run.settle(three.promise, 'three messages');
    client.close(1000);
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

differential("27. handleUpgrade(): a handshake refused after the upgrade as engine.io does (an HTTP 400 written to the socket, then destroy()) gives the client 'error'", {
  modes: ['noServer'],
  scenario: handedOver((run, { socket }) => {
    // engine.io's abortUpgrade(), once its handshake has failed (a generateId that rejects).
    setTimeout(() => {
      run.log('server', { ev: 'writable', writable: socket.writable });
      if (socket.writable) socket.write('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\nContent-Length: 11\r\n\r\nBad request');
      socket.destroy();
      run.log('server', { ev: 'written and destroyed', writable: socket.writable });
    }, 20);
  }),
});

differential('28. handleUpgrade(): end() on the socket it was given ends TCP after what was sent, with no close frame', {
  modes: ['noServer'],
  scenario: handedOver((run, { wss, ws, request, socket }) => {
    wss.emit('connection', ws, request);
    ws.send('last');
    socket.end(() => run.log('server', { ev: 'end callback' }));
    run.log('server', { ev: 'socket.end()', writable: socket.writable, readyState: ws.readyState });
  }),
});

differential("29. ws's _server: the http server it was given (server mode), null once closed; livereload closes it by that name", {
  modes: ['server', 'noServer'],
  scenario: async (run) => {
    const describeServer = (wss) => (wss._server === undefined ? 'undefined' : wss._server === null ? 'null' : wss._server.constructor.name);
    await run.server({}, {
      onServer: (wss) => run.log('server', { ev: 'constructed', _server: describeServer(wss) }),
      onConnection: (ws, req) => run.log('server', { ev: 'is the request\'s server', same: run.wss._server === req.socket.server }),
    });
    const client = run.client('/');
    if (!(await run.opened(client)) || !(await run.connection(0))) return;
    const { wss } = run;
    // livereload's close(): the http server's, then the WebSocketServer's.
    if (wss._server) wss._server.close();
    wss.close();
    run.log('server', { ev: 'closed', _server: describeServer(wss) });
    client.close(1000);
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

/** The kernel's timer on this host's established TCP socket whose local port is `port` (`ss -tno`): kind and seconds left. */
function tcpTimer(port) {
  const out = require('node:child_process').execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  const m = /timer:\((\w+),(?:(\d+)min)?(?:(\d+)sec)?(?:(\d+)ms)?/.exec(out);
  if (m === null) return null;
  return { kind: m[1], seconds: Number(m[2] || 0) * 60 + Number(m[3] || 0) + (m[4] ? 1 : 0) };
}

differential("30. ws._socket.setKeepAlive() and setNoDelay(), as ws users call them on the connection's net.Socket: the kernel's keepalive timer runs", {
  modes: ['port', 'noServer'],
  scenario: async (run) => {
    await run.server({}, {
      onConnection: (ws) => {
        const socket = ws._socket;
        run.log('server', {
          ev: 'set',
          keepAliveReturns: socket.setKeepAlive(true, 20000) === socket,
          noDelayReturns: socket.setNoDelay(true) === socket,
        });
      },
    });
    const client = run.client('/');
    if (!(await run.opened(client)) || !(await run.connection(0))) return;
    await sleep(200);
    const timer = tcpTimer(run.port);
    run.log('server', { ev: 'kernel timer', kind: timer && timer.kind, within20s: timer !== null && timer.seconds <= 20 });
    client.close(1000);
    await run.closed(client, 'client close');
    await run.serverSocketsClosed();
  },
});

'use strict';
// lib/ws/extensions.js: Sec-WebSocket-Extensions parsed and permessage-deflate
// negotiated as ws 8's server does. Explicit cases, then a seeded random
// comparison with ws's own parser and negotiation (node_modules/ws/lib).
// The same rules on real connections: __test__/differential.test.js, scenario 14.
//
// Run: node --test __test__/ws-extensions.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { parse, negotiate } = require('../lib/ws/extensions');

const wsLib = path.join(path.dirname(require.resolve('ws/package.json')), 'lib');
const wsExtension = require(path.join(wsLib, 'extension'));
const WsPerMessageDeflate = require(path.join(wsLib, 'permessage-deflate'));

/** What ws's server answers: its response value, '' for none, or 'refused'. */
function wsAnswer(header, options = {}) {
  try {
    const offers = wsExtension.parse(header);
    if (!offers['permessage-deflate']) return '';
    const pmd = new WsPerMessageDeflate({ ...options, isServer: true });
    pmd.accept(offers['permessage-deflate']);
    return wsExtension.format({ 'permessage-deflate': [pmd.params] });
  } catch {
    return 'refused';
  }
}

function ours(header, options = {}) {
  try {
    return negotiate(header, options);
  } catch {
    return 'refused';
  }
}

/** parse() as plain data: [name, [[param, values]...]] per offer. */
const plain = (offers) => [...offers].map(([name, list]) => [name, list.map((params) => [...params])]);

test('parse: names, parameters, values, quoted strings and escapes', () => {
  assert.deepEqual(plain(parse('permessage-deflate')), [['permessage-deflate', [[]]]]);
  assert.deepEqual(plain(parse('a; b; c=1, a ;d="x\\yz" , e')), [
    ['a', [[['b', [true]], ['c', ['1']]], [['d', ['xyz']]]]],
    ['e', [[]]],
  ]);
  assert.deepEqual(plain(parse('a;b=1;b=2')), [['a', [[['b', ['1', '2']]]]]]);
  assert.deepEqual(plain(parse('a;\tb="\\1"')), [['a', [[['b', ['1']]]]]]);
  // Null-prototype safe: these are ordinary names.
  assert.deepEqual(plain(parse('__proto__; constructor=1')), [['__proto__', [[['constructor', ['1']]]]]]);
});

test('parse: what ws refuses', () => {
  for (const header of [
    '', ' a', 'a ', 'a\t', ',a', 'a,', 'a,,b', 'a;', 'a;;', 'permessage-deflate;;', 'a; ;b', 'a b', 'a;b c',
    'a=1', 'a;b =1', 'a;b= 1', 'a;b=', 'a;b=""', 'a;b="1', 'a;b="1 2"', 'a;b="\\""', 'a;b="1\\', 'a;b=1"',
    'a;b="1"2', 'a;b=1=2', 'a;"b"', '"a"', 'a;b=@', 'é', 'a;b=é', 'a\r\n',
  ]) {
    assert.throws(() => parse(header), SyntaxError, JSON.stringify(header));
    assert.equal(wsAnswer(header), 'refused', `ws refuses ${JSON.stringify(header)} too`);
  }
});

test("negotiate: ws's answers with perMessageDeflate: true", () => {
  const cases = [
    ['permessage-deflate', 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits', 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits=10', 'permessage-deflate; client_max_window_bits=10'],
    ['permessage-deflate; server_max_window_bits=8', 'permessage-deflate; server_max_window_bits=8'],
    ['permessage-deflate; client_max_window_bits="0x9"', 'permessage-deflate; client_max_window_bits=9'],
    [
      'permessage-deflate; client_no_context_takeover; server_max_window_bits=12; server_no_context_takeover',
      'permessage-deflate; client_no_context_takeover; server_max_window_bits=12; server_no_context_takeover',
    ],
    ['foo, permessage-deflate; server_max_window_bits=10, permessage-deflate', 'permessage-deflate; server_max_window_bits=10'],
    ['x-webkit-deflate-frame', ''],
    ['foo; bar="baz"', ''],
    ['Permessage-Deflate', ''], // names are case-sensitive
    // refused: invalid, unknown or repeated parameters (in any offer), unparseable headers
    ['permessage-deflate; server_max_window_bits=foo', 'refused'],
    ['permessage-deflate; server_max_window_bits', 'refused'],
    ['permessage-deflate; server_max_window_bits=16', 'refused'],
    ['permessage-deflate; client_max_window_bits=7', 'refused'],
    ['permessage-deflate; server_no_context_takeover=true', 'refused'],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', 'refused'],
    ['permessage-deflate; x', 'refused'],
    ['permessage-deflate, permessage-deflate; x', 'refused'],
    ['permessage-deflate;;', 'refused'],
  ];
  for (const [header, expected] of cases) {
    assert.equal(ours(header), expected, header);
    assert.equal(wsAnswer(header), expected, `ws: ${header}`);
  }
});

test('negotiate: server options, as ws applies them', () => {
  const cases = [
    [{ serverNoContextTakeover: true, clientNoContextTakeover: true }, 'permessage-deflate; client_max_window_bits',
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    [{ serverNoContextTakeover: false }, 'permessage-deflate; server_no_context_takeover', 'refused'],
    [{ serverNoContextTakeover: false }, 'permessage-deflate; server_no_context_takeover, permessage-deflate', 'permessage-deflate'],
    [{ serverMaxWindowBits: 10 }, 'permessage-deflate', 'permessage-deflate; server_max_window_bits=10'],
    [{ serverMaxWindowBits: 10 }, 'permessage-deflate; server_max_window_bits=9', 'refused'],
    [{ serverMaxWindowBits: 10 }, 'permessage-deflate; server_max_window_bits=12', 'permessage-deflate; server_max_window_bits=10'],
    [{ serverMaxWindowBits: false }, 'permessage-deflate; server_max_window_bits=12', 'refused'],
    [{ clientMaxWindowBits: 12 }, 'permessage-deflate', 'refused'],
    [{ clientMaxWindowBits: 12 }, 'permessage-deflate; client_max_window_bits', 'permessage-deflate; client_max_window_bits=12'],
    [{ clientMaxWindowBits: 12 }, 'permessage-deflate; client_max_window_bits=11', 'refused'],
    [{ clientMaxWindowBits: 12 }, 'permessage-deflate; client_max_window_bits=13', 'permessage-deflate; client_max_window_bits=12'],
    [{ clientMaxWindowBits: false }, 'permessage-deflate; client_max_window_bits=13', 'permessage-deflate'],
    [{ clientMaxWindowBits: true }, 'permessage-deflate; client_max_window_bits=13', 'permessage-deflate; client_max_window_bits=13'],
  ];
  for (const [options, header, expected] of cases) {
    assert.equal(ours(header, options), expected, `${JSON.stringify(options)} ${header}`);
    assert.equal(wsAnswer(header, options), expected, `ws: ${JSON.stringify(options)} ${header}`);
  }
});

test("negotiate: seeded random headers and options give ws's answer", () => {
  let seed = 0x2545f491;
  const rnd = (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pick = (list) => list[rnd(list.length)];
  const params = ['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'];
  const values = ['', '', '', '=8', '=9', '=10', '=12', '=15', '=16', '=7', '="11"', '="1\\3"', '=0x9', '=09', '=1e1', '=abc', '=""', '= 9'];
  const spaces = ['', '', ' ', '\t'];
  const noise = [';', ',', ' ', '=', '"', '\\', 'foo', 'permessage-deflate', 'é'];
  const choices = [undefined, true, false, 8, 9, 10, 12, 15];
  const counts = { agreed: 0, none: 0, refused: 0 };
  for (let i = 0; i < 20000; i++) {
    const offers = [];
    for (let k = 1 + rnd(3); k > 0; k--) {
      let offer = rnd(5) === 0 ? pick(['foo', 'x-webkit-deflate-frame', 'Permessage-Deflate']) : 'permessage-deflate';
      for (let j = rnd(4); j > 0; j--) offer += `${pick(spaces)};${pick(spaces)}${pick(params)}${pick(values)}`;
      offers.push(offer);
    }
    let header = offers.join(pick([',', ', ', ' ,']));
    if (rnd(8) === 0) header = header.slice(0, rnd(header.length + 1)) + pick(noise) + header.slice(rnd(header.length + 1));
    const options = {};
    for (const name of ['serverNoContextTakeover', 'clientNoContextTakeover', 'serverMaxWindowBits', 'clientMaxWindowBits']) {
      const v = pick(choices);
      if (v !== undefined && (typeof v !== 'number' || name.endsWith('Bits'))) options[name] = v;
    }
    const expected = wsAnswer(header, options);
    counts[expected === 'refused' ? 'refused' : expected === '' ? 'none' : 'agreed']++;
    assert.equal(ours(header, options), expected, `${JSON.stringify(header)} with ${JSON.stringify(options)}`);
  }
  // The generator reaches every outcome often.
  for (const [outcome, n] of Object.entries(counts)) assert.ok(n > 1000, `${outcome}: ${n}`);
});

/** Upgrades with `offer` on a raw socket; the 101's extension and the first server frame's RSV1 bit. */
function firstFrame(port, offer) {
  const net = require('node:net');
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(
      'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: ${offer}\r\n\r\n`));
    const timer = setTimeout(() => { c.destroy(); reject(new Error('no frame within 5 s')); }, 5000);
    let buf = Buffer.alloc(0);
    c.on('error', reject);
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0 || buf.length < end + 6) return;
      clearTimeout(timer);
      c.destroy();
      const head = buf.subarray(0, end).toString('latin1');
      resolve({ extension: (/^Sec-WebSocket-Extensions: (.*)$/im.exec(head) || [])[1], rsv1: (buf[end + 4] & 0x40) !== 0 });
    });
  });
}

test('threshold: small messages go uncompressed exactly where ws leaves them so (connections without server context)', { timeout: 30000 }, async () => {
  const WS = require('ws');
  const { WebSocketServer } = require('..');
  const results = {};
  for (const [name, Server] of [['ws', WS.WebSocketServer], ['lws', WebSocketServer]]) {
    for (const options of [true, { threshold: 0 }, { serverNoContextTakeover: true }, { threshold: 3 }]) {
      const server = await new Promise((resolve) => {
        const s = new Server({ port: 0, host: '127.0.0.1', perMessageDeflate: options }, () => resolve(s));
        s.on('connection', (ws) => ws.send('small'));
      });
      for (const offer of ['permessage-deflate', 'permessage-deflate; server_no_context_takeover']) {
        results[`${name} ${JSON.stringify(options)} ${offer}`] = await firstFrame(server.address().port, offer);
      }
      await new Promise((resolve) => server.close(resolve));
    }
  }
  const of = (name) => Object.fromEntries(Object.entries(results).filter(([k]) => k.startsWith(`${name} `)).map(([k, v]) => [k.slice(name.length + 1), v]));
  assert.deepEqual(of('lws'), of('ws'));
});

'use strict';
// The bridge's record format is written twice, in crates/engine/src/wire.rs (the engine) and
// lib/wire.js (JS). This test reads the Rust source and fails on any drift:
// a constant changed, added or removed on one side only.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const wire = require('../lib/core/wire');

const ROOT = path.join(__dirname, '..');
const rust = fs.readFileSync(path.join(ROOT, 'crates', 'engine', 'src', 'wire.rs'), 'utf8');
const errors = fs.readFileSync(path.join(ROOT, 'crates', 'proto', 'src', 'protocol', 'error.rs'), 'utf8');

/** `pub const NAME: type = value;` lines of a Rust source (or of one `pub mod` in it). */
function rustConstants(source, mod) {
  let body = source;
  if (mod !== undefined) {
    const start = source.indexOf(`pub mod ${mod} {`);
    assert.ok(start >= 0, `crates/engine/src/wire.rs has no module ${mod}`);
    body = source.slice(start, source.indexOf('\n}', start));
  } else {
    body = source.replace(/pub mod \w+ \{[\s\S]*?\n\}/g, ''); // top level only
  }
  const out = {};
  for (const m of body.matchAll(/pub const (\w+): \w+ = (\d+)(?: \* (\d+))?;/g)) {
    out[m[1]] = Number(m[2]) * (m[3] === undefined ? 1 : Number(m[3]));
  }
  return out;
}

test('event kinds are the same on both sides', () => {
  assert.deepEqual({ ...wire.Event }, rustConstants(rust, 'event'));
});

test('command kinds are the same on both sides', () => {
  assert.deepEqual({ ...wire.Command }, rustConstants(rust, 'command'));
});

test('record header size and flags are the same on both sides', () => {
  const top = rustConstants(rust);
  assert.equal(wire.RECORD_HEADER, top.RECORD_HEADER);
  const jsFlags = Object.keys(wire).filter((k) => k.startsWith('FLAG_')).sort();
  const rustFlags = Object.keys(top).filter((k) => k.startsWith('FLAG_')).sort();
  assert.deepEqual(jsFlags, rustFlags, 'the same set of flags');
  for (const name of rustFlags) assert.equal(wire[name], top[name], name);
});

test('error ids: every protocol error and the internal error have their ws code in JS', () => {
  const body = errors.slice(errors.indexOf('fn wire_id'), errors.indexOf('\n    }\n', errors.indexOf('fn wire_id')));
  const ids = [...body.matchAll(/ProtocolError::(\w+)(?:\(_\))? => (\d+),/g)].map((m) => [m[1], Number(m[2])]);
  assert.ok(ids.length >= 10, 'wire_id arms found in crates/proto/src/protocol/error.rs');
  const max = Math.max(...ids.map(([, id]) => id));
  for (const [name, id] of ids) assert.equal(typeof wire.ERROR_CODES[id], 'string', `${name} (${id}) has no code in lib/wire.js`);
  const internal = rustConstants(rust).INTERNAL_ERROR_ID;
  assert.equal(internal, max + 1, 'INTERNAL_ERROR_ID follows the protocol errors');
  assert.equal(wire.ERROR_CODES[internal], 'LWS_ERR_INTERNAL');
  assert.equal(wire.ERROR_CODES.length, internal + 1, 'no code in JS beyond the engine ids');
});

test('client connections: id bit, failure ids and TLS failure details are the same on both sides', () => {
  const top = rustConstants(rust);
  assert.equal(wire.CLIENT_ID_BIT, 2 ** 29);
  assert.match(rust, /pub const CLIENT_ID_BIT: u32 = 1 << 29;/);
  assert.deepEqual({ ...wire.ClientFailure }, rustConstants(rust, 'client_failure'));
  assert.deepEqual({ ...wire.TlsFailure }, rustConstants(rust, 'tls_failure'));
  const ids = Object.values(wire.ClientFailure);
  assert.equal(Math.min(...ids), top.INTERNAL_ERROR_ID + 1, 'client failures follow the internal error id');
  assert.deepEqual(Object.keys(wire.CLIENT_ERROR_CODES).map(Number), ids, 'every client failure has an error code');
});

test('RESPONSE payloads decode as crates/engine/src/wire.rs encodes them (its response_layout test)', () => {
  const head = [
    Buffer.from([9, 0]), Buffer.from('Not Found'), Buffer.from([25, 0, 0, 0]),
    Buffer.from('Content-Length\x002\x00X-A\x00b c\x00'),
  ];
  const plain = Buffer.concat([...head, Buffer.from([0, 0, 0, 0]), Buffer.from('hi')]);
  assert.deepEqual(wire.decodeResponse(plain, 0, plain.length), {
    statusMessage: 'Not Found', rawHeaders: ['Content-Length', '2', 'X-A', 'b c'], peerCertificates: [], body: Buffer.from('hi'),
  });
  const tls = Buffer.concat([
    ...head, Buffer.from([13, 0, 0, 0, 3, 0, 0, 0]), Buffer.from('abc'), Buffer.from([2, 0, 0, 0]), Buffer.from('de'), Buffer.from('hi'),
  ]);
  assert.deepEqual(wire.decodeResponse(tls, 0, tls.length), {
    statusMessage: 'Not Found', rawHeaders: ['Content-Length', '2', 'X-A', 'b c'],
    peerCertificates: [Buffer.from('abc'), Buffer.from('de')], body: Buffer.from('hi'),
  });
});

test('CONNECT payloads encode as crates/engine/src/connector.rs decodes them (its decodes_connect_payloads test)', () => {
  const payload = wire.encodeConnect({ address: '::1', port: 443, localAddress: '127.0.0.2', tlsIndex: 3, servername: 'example.org', head: Buffer.from('x') });
  const expected = Buffer.concat([
    Buffer.from([3]), Buffer.from('::1'), Buffer.from([443 & 255, 443 >> 8]), Buffer.from([9]), Buffer.from('127.0.0.2'),
    Buffer.from([3, 0, 0, 0]), Buffer.from([11, 0]), Buffer.from('example.org'), Buffer.from('x'),
  ]);
  assert.deepEqual(payload, expected);
});

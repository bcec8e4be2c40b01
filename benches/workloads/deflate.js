'use strict';
// permessage-deflate workloads: echo of 1 KiB JSON-like text (256 distinct messages per
// connection, varied and compressible; benches/loadgen/src/messages.rs), with and without
// context takeover, and the server memory per connection with deflate negotiated. The loadgen
// offers permessage-deflate (client_no_context_takeover), compresses what it sends, inflates and
// checks every echo.
// Server rows (benches/servers/*.js --deflate MODE): lws.Server `perMessageDeflate: true` (no
// takeover, lws's default) or `{ serverNoContextTakeover: false, clientNoContextTakeover: false }`;
// ws and lws's WebSocketServer with ws's options (`{ serverNoContextTakeover: true, ... }` or
// ws's default `true`, which keeps the context); uWebSockets.js SHARED_COMPRESSOR or
// DEDICATED_COMPRESSOR (with the matching decompressor).

// (the server settings behind each label: benches/README.md, Workloads)
const MODES = [
  { mode: 'no-takeover', id: 'deflate', label: 'without context takeover' },
  { mode: 'takeover', id: 'deflate-takeover', label: 'with context takeover' },
];

/** Rows that cannot run these workloads, and why. */
function notApplicable(srv) {
  return srv.bin ? 'no permessage-deflate in the ceiling server' : null;
}

function workloads(quick) {
  const secs = quick ? 2 : 4;
  const conns = quick ? 500 : 1000;
  const out = [];
  for (const { mode, id, label } of MODES) {
    out.push({
      id: `${id}-echo`, kind: 'deflate-echo', notApplicable,
      title: `permessage-deflate ${label}: echo 1 KiB JSON-like text, 100 conns x 16 in flight, ${secs} s`,
      args: ['--conns', '100', '--size', '1024', '--inflight', '16', '--secs', String(secs), '--json', '--deflate'],
      serverArgs: ['--deflate', mode], secs,
    });
  }
  for (const { mode, id, label } of MODES) {
    out.push({
      id: `${id}-memory`, kind: 'memory', notApplicable,
      title: `permessage-deflate ${label}: memory, ${conns.toLocaleString('en-US')} idle connections`,
      args: ['--size', '1024', '--json', '--deflate'],
      // A warm-up without deflate: it pages code in, but leaves no freed zlib state behind for
      // the measured connections to reuse (an allocator that keeps it would hide their cost).
      warmupArgs: ['--size', '1024', '--json'],
      serverArgs: ['--deflate', mode], conns, secs: 120,
    });
  }
  return out;
}

// The echo rows, and the compression achieved as a check that the server did compress.
const METRICS = {
  'deflate-echo': [
    ['rate', 'msgs/s', 'higher', 0],
    ['server_us', 'server CPU µs/msg (all threads)', 'lower', 2],
    ['server_main_us', 'server CPU µs/msg (main thread)', 'lower', 2],
    ['p50_us', 'p50 latency µs', 'lower', 0],
    ['p99_us', 'p99 latency µs', 'lower', 0],
    ['wire_ratio', 'bytes received ÷ payload bytes (check: < 1, compressed)', 'lower', 3, 'no ratio'],
    ['client_us', 'loadgen CPU µs/msg (check: ≪ server)', 'lower', 2, 'no ratio'],
  ],
};

module.exports = { workloads, METRICS };

'use strict';
// Prints the README's benchmark tables (servers, clients, pub/sub) from a run's latest.json,
// medians only, so the README is transcribed by a program rather than by hand.
// Usage: node benches/readme-tables.js [benches/results/latest.json]
const fs = require('fs');
const path = require('path');

const file = process.argv[2] || path.join(__dirname, 'results', 'latest.json');
const { summary } = JSON.parse(fs.readFileSync(file, 'utf8'));

/** The median of `metric` for `name` in workload `wl` (null when absent or n/a). */
function median(wl, name, metric) {
  const cell = summary[wl] && summary[wl][name];
  if (!cell || cell.na || !cell[metric]) return null;
  return cell[metric].median ?? null;
}

function fmt(v, digits) {
  if (v === null || v === undefined) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a, b) {
  if (a === null || b === null || b === 0) return '';
  const r = a / b;
  return `${r.toFixed(r < 0.01 ? 3 : 2)}×`;
}

/** One table: `columns` (server or client names), `ratios` ([numerator, denominator] pairs), `rows`. */
function table(head, columns, ratios, rows) {
  const out = [`| workload | ${head.join(' | ')} |`, `|---|${head.map(() => '---:').join('|')}|`];
  for (const row of rows) {
    const values = columns.map((c) => (row.values ? row.values(c) : median(row.wl, c, row.metric)));
    const cells = values.map((v) => (typeof v === 'string' ? v : fmt(v, row.digits)));
    const shown = row.noRatios ? ratios.map(() => '') : ratios.map(([a, b]) => ratio(values[columns.indexOf(a)], values[columns.indexOf(b)]));
    out.push(`| ${row.title} | ${[...cells, ...shown].join(' | ')} |`);
  }
  return out.join('\n');
}

const SERVERS = ['lws', 'lws threads:0', 'lws WebSocketServer', 'ws', 'ws+bufferutil', 'uWS.js', 'rust-tokio'];
const serverRows = [
  { title: 'echo 16 B, 100 conns × 16 in flight (msg/s)', wl: 'echo16x16', metric: 'rate', digits: 0 },
  { title: 'same: server CPU per message (µs, all threads)', wl: 'echo16x16', metric: 'server_us', digits: 2 },
  { title: 'same: JS-thread CPU per message (µs)', wl: 'echo16x16', metric: 'server_main_us', digits: 2 },
  { title: 'echo 16 B, 1 in flight (msg/s)', wl: 'echo16x1', metric: 'rate', digits: 0 },
  { title: 'echo 64 KiB binary, 10 conns × 4 in flight (msg/s)', wl: 'echo64k', metric: 'rate', digits: 0 },
  { title: 'same: server CPU per message (µs, all threads)', wl: 'echo64k', metric: 'server_us', digits: 2 },
  { title: 'handshakes (with a close handshake each), 5,000 at 100 concurrent (per s)', wl: 'handshakes', metric: 'rate', digits: 0 },
  { title: 'RSS per idle connection, 10,000 held, after a 1,000-connection warm-up (KB)', wl: 'memory', metric: 'kb_per_conn', digits: 2 },
  { title: 'same, from a server that never had a connection (KB)', wl: 'memory', metric: 'kb_per_conn_cold', digits: 2 },
  { title: 'broadcast 64 B to 10,000 connections ×50 (deliveries/s)', wl: 'broadcast', metric: 'rate', digits: 0 },
  { title: 'same: JS-thread CPU per delivery (µs)', wl: 'broadcast', metric: 'server_main_us', digits: 2 },
  { title: 'permessage-deflate, no context takeover: echo 1 KiB JSON-like text, 100 × 16 in flight (msg/s)', wl: 'deflate-echo', metric: 'rate', digits: 0 },
  { title: 'same: server CPU per message (µs, all threads)', wl: 'deflate-echo', metric: 'server_us', digits: 2 },
  { title: 'permessage-deflate with context takeover (msg/s)', wl: 'deflate-takeover-echo', metric: 'rate', digits: 0 },
  { title: 'same: server CPU per message (µs, all threads)', wl: 'deflate-takeover-echo', metric: 'server_us', digits: 2 },
  { title: 'RSS per idle deflate connection, no takeover, 1,000 held (KB)', wl: 'deflate-memory', metric: 'kb_per_conn', digits: 2 },
  { title: 'same, with context takeover (KB)', wl: 'deflate-takeover-memory', metric: 'kb_per_conn', digits: 2 },
  { title: '`wss://` echo 16 B, 100 × 16 in flight (msg/s)', wl: 'wss-echo16x16', metric: 'rate', digits: 0 },
  { title: 'same: server CPU per message (µs, all threads)', wl: 'wss-echo16x16', metric: 'server_us', digits: 2 },
  { title: '`wss://` echo 64 KiB, 10 × 4 in flight (msg/s)', wl: 'wss-echo64k', metric: 'rate', digits: 0 },
  { title: '`wss://` handshakes, full TLS (ECDSA P-256) + close handshake (per s)', wl: 'wss-handshakes', metric: 'rate', digits: 0 },
  { title: 'same: server CPU per handshake (µs, all threads)', wl: 'wss-handshakes', metric: 'server_us', digits: 1 },
  { title: 'latency at 50,000 msg/s offered, 16 B: p50 (µs)', wl: 'latency50k', metric: 'p50_us', digits: 0 },
  { title: 'same: p99 (µs)', wl: 'latency50k', metric: 'p99_us', digits: 0 },
  { title: 'same: p99.9 (µs)', wl: 'latency50k', metric: 'p999_us', digits: 0 },
];

// rust-tokio (loadgen recv): the receive rows' ceiling, what any client reaches here.
const CLIENTS = ['lws.Client', 'lws.WebSocket', 'ws', 'ws+bufferutil', 'rust-tokio'];
const clientRows = [
  { title: 'receive 16 B pushed by uWS.js to 100 conns (msg/s)', wl: 'client-recv16', metric: 'rate', digits: 0 },
  { title: 'same: JS-thread CPU per message (µs)', wl: 'client-recv16', metric: 'client_main_us', digits: 3 },
  { title: 'receive 16 B pushed by Rust to 100 conns (msg/s)', wl: 'client-recv16-rust', metric: 'rate', digits: 0 },
  { title: 'same: JS-thread CPU per message (µs)', wl: 'client-recv16-rust', metric: 'client_main_us', digits: 3 },
  { title: 'same: JS thread busy (% of a core)', wl: 'client-recv16-rust', metric: 'client_main_cpu_pct', digits: 0, noRatios: true },
  { title: 'receive 64 KiB pushed by uWS.js to 100 conns (msg/s)', wl: 'client-recv64k', metric: 'rate', digits: 0 },
  { title: 'same: JS-thread CPU per message (µs)', wl: 'client-recv64k', metric: 'client_main_us', digits: 3 },
  { title: 'receive 64 KiB pushed by Rust to 100 conns (msg/s)', wl: 'client-recv64k-rust', metric: 'rate', digits: 0 },
  { title: 'same: JS-thread CPU per message (µs)', wl: 'client-recv64k-rust', metric: 'client_main_us', digits: 3 },
  { title: 'RSS per idle client connection, 10,000 held (KB)', wl: 'client-memory', metric: 'kb_per_conn', digits: 2 },
  { title: 'connects, 5,000 at 100 at once, open + close (per s)', wl: 'client-connect', metric: 'rate', digits: 0 },
];

const PUBSUB = ['lws', 'lws threads:0', 'lws WebSocketServer', 'uWS.js', 'ws', 'rust-tokio'];
const pair = (wl, name, a, b, digits) => {
  const x = median(wl, name, a);
  const y = median(wl, name, b);
  return x === null ? '' : `${fmt(x / 1000, digits)} / ${fmt(y / 1000, digits)}`;
};
const pubsubRows = [
  { title: 'one topic, 10,000 subscribers, 50 publishes one after the other (deliveries/s)', wl: 'pubsub-10k', metric: 'rate', digits: 0 },
  { title: 'same: JS-thread CPU per delivery (µs)', wl: 'pubsub-10k', metric: 'server_main_us', digits: 3 },
  { title: 'same: server CPU per delivery, all threads (µs)', wl: 'pubsub-10k', metric: 'server_us', digits: 2 },
  { title: 'chat: 1,000 topics × 10, publishes from random members, 100 in flight (deliveries/s)', wl: 'pubsub-rooms', metric: 'rate', digits: 0 },
  { title: 'same: JS-thread CPU per delivery (µs)', wl: 'pubsub-rooms', metric: 'server_main_us', digits: 2 },
  { title: 'same: server CPU per delivery, all threads (µs)', wl: 'pubsub-rooms', metric: 'server_us', digits: 2 },
  { title: 'same: p50 / p99 until a publish reached its whole room (ms)', noRatios: true, values: (c) => pair('pubsub-rooms', c, 'p50_us', 'p99_us', 1) },
  { title: 'the chat over 3 lws processes on one port (`reusePort`) through one Redis (deliveries/s)', wl: 'pubsub-redis3', metric: 'rate', digits: 0, noRatios: true },
  { title: 'same: p50 / p99 (ms)', noRatios: true, values: (c) => pair('pubsub-redis3', c, 'p50_us', 'p99_us', 1) },
  { title: 'same: CPU per delivery: the 3 servers (µs), their JS threads, redis-server', noRatios: true, values: (c) => {
    const all = ['server_us', 'server_main_us', 'redis_us'].map((m) => median('pubsub-redis3', c, m));
    return all[0] === null ? '' : `${fmt(all[0], 1)}, ${fmt(all[1], 1)}, ${fmt(all[2], 2)}`;
  } },
];

console.log('Servers:\n');
console.log(table(
  ['lws `Server`', 'lws `threads: 0`', 'lws `WebSocketServer`', 'ws 8', 'ws + bufferutil', 'uWebSockets.js', 'rust-tokio', 'lws ÷ ws', 'lws ÷ uWS.js', '`threads: 0` ÷ uWS.js'],
  SERVERS, [['lws', 'ws'], ['lws', 'uWS.js'], ['lws threads:0', 'uWS.js']], serverRows,
));
console.log('\nClients:\n');
console.log(table(
  ['lws.Client', 'lws.WebSocket', 'ws', 'ws + bufferutil', 'rust-tokio', 'lws.Client ÷ ws', 'lws.WebSocket ÷ ws', 'rust-tokio ÷ ws'],
  CLIENTS, [['lws.Client', 'ws'], ['lws.WebSocket', 'ws'], ['rust-tokio', 'ws']], clientRows,
));
console.log('\nPub/sub:\n');
console.log(table(
  ['lws `Server`', 'lws `threads: 0`', 'lws `WebSocketServer`', 'uWebSockets.js', 'ws 8', 'rust-tokio', 'lws ÷ uWS.js', '`threads: 0` ÷ uWS.js', 'rust-tokio ÷ uWS.js', 'lws ÷ ws'],
  PUBSUB, [['lws', 'uWS.js'], ['lws threads:0', 'uWS.js'], ['rust-tokio', 'uWS.js'], ['lws', 'ws']], pubsubRows,
));

'use strict';
// Latency under load: the loadgen offers a fixed rate (open loop: it sends on schedule whatever
// the answers, so every message sent during a server's stall shows the stall) and reports
// p50/p99/p99.9 from a bounded histogram (benches/loadgen/src/histogram.rs).
// The rate is one every server here sustains (plain ws peaks near 100,000 msg/s on 2 cores),
// so the rows compare latency at the same offered load rather than at each one's saturation.

const RATE = 50000;

const METRICS = {
  latency: [
    ['rate', `msgs/s answered (${RATE.toLocaleString('en-US')} offered)`, 'higher', 0, 'no ratio'],
    ['p50_us', 'p50 latency µs', 'lower', 0],
    ['p99_us', 'p99 latency µs', 'lower', 0],
    ['p999_us', 'p99.9 latency µs', 'lower', 0],
    ['server_us', 'server CPU µs/msg (all threads)', 'lower', 2],
    ['server_main_us', 'server CPU µs/msg (main thread)', 'lower', 2],
  ],
};

function workloads(quick) {
  const secs = quick ? 2 : 6;
  return [
    { id: 'latency50k', kind: 'latency',
      title: `latency at a fixed ${RATE.toLocaleString('en-US')} msg/s offered: 16 B text, 100 conns, ${secs} s after 1 s warm-up`,
      args: ['--conns', '100', '--size', '16', '--rate', String(RATE), '--secs', String(secs)], secs: secs + 1 },
  ];
}

module.exports = { workloads, METRICS };

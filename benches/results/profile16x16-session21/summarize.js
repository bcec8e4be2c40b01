// node summarize.js NAME [TOP]: CPU µs per echoed message by thread (engine / JS) and kind
// (kernel TCP/IP, kernel scheduling and wake-ups, the addon's Rust, libc, V8/Node), from
// profile.sh's perf.data; the idle share of both cores; system calls and context switches
// per message. TOP: also list the TOP symbols. Samples become CPU time as 2 cores x 4 s.
const { execSync } = require('child_process');
const name = process.argv[2];
const D = process.env.PROFILE_DIR || '/tmp/lws-profile';
const tids = new Set(require('fs').readFileSync(`${D}/${name}.tids`, 'utf8').split(/\s+/).filter(Boolean));
const lg = JSON.parse(require('fs').readFileSync(`${D}/${name}.lg.json`, 'utf8'));
const rate = lg.msgs_per_sec;
const out = execSync(`perf report -i ${D}/${name}.perf.data --no-children --sort pid,comm,dso,sym --stdio -F overhead,sample,pid,comm,dso,sym 2>/dev/null`, { maxBuffer: 1 << 28 }).toString();
let total = 0; const cat = {}; let idle = 0; let server = 0; let loadgen = 0; const syms = {};
for (const line of out.split('\n')) {
  if (line.startsWith('#') || !line.trim()) continue;
  // The dso may hold spaces ("[JIT] tid N"): it runs up to the [k]/[.] mark.
  const m = line.match(/^\s*([\d.]+)%\s+(\d+)\s+(\d+):(\S+)\s+(\S+)\s+(.+?)\s+\[(.)\]\s+(.*)$/);
  if (!m) continue;
  const [, , samples, p, comm, , dso, kind, sym] = m;
  const s = Number(samples); total += s;
  if (comm === 'swapper') { idle += s; continue; }
  if (comm === 'loadgen') loadgen += s;
  if (!tids.has(p)) continue;
  server += s;
  const thread = comm.startsWith('lws-worker') ? 'engine thread' : comm === 'node' ? 'JS thread' : comm;
  let c;
  if (kind === 'k') c = /schedule|task_switch|futex|wake|_raw_spin_unlock_irq|pick_next|enqueue|dequeue|update_curr|select_task|try_to_wake|eventfd|ep_poll|epoll|do_epoll|__x64_sys_epoll|sched/.test(sym) ? 'kernel: scheduling/epoll/wake' : 'kernel: TCP/IP and syscalls';
  else if (/lws\.linux|lws_/.test(dso) || /^lws_/.test(sym)) c = 'addon (Rust)';
  else if (/libc|ld-linux|vdso/.test(dso)) c = 'libc';
  else if (dso === 'node' || dso.startsWith('[JIT]') || /^perf-\d+\.map$/.test(dso)) c = 'V8/Node';
  else c = `${dso} (its own code)`;
  const key = `${thread}: ${c}`;
  cat[key] = (cat[key] || 0) + s;
  syms[`${thread} ${sym.slice(0, 70)}`] = (syms[`${thread} ${sym.slice(0, 70)}`] || 0) + s;
}
// samples -> core-seconds: total samples cover 2 cores x 4 s
const coreSecPerSample = 8 / total;
const msgs = rate * 4;
const us = (s) => (s * coreSecPerSample * 1e6 / msgs).toFixed(3);
const pct = (s) => `${(100 * s / total).toFixed(1)}%`;
console.log(`${name}: ${Math.round(rate)} msg/s; of the 2 cores: server ${pct(server)}, loadgen ${pct(loadgen)}, idle ${pct(idle)}`);
let sum = 0;
for (const [k, v] of Object.entries(cat).sort()) { sum += v; console.log(`  ${k.padEnd(45)} ${us(v)} µs/msg`); }
console.log(`  ${'total'.padEnd(45)} ${us(sum)} µs/msg`);
const top = Object.entries(syms).sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] || 0));
for (const [k, v] of top) console.log(`    ${us(v)}  ${k}`);
const stat = require('fs').readFileSync(`${D}/${name}.stat`, 'utf8').split('\n').filter((l) => /,/.test(l) && !l.startsWith('#'));
for (const l of stat) { const f = l.split(','); const n = Number(f[0]); if (/sys_enter|context/.test(f[2])) console.log(`  ${f[2]}: ${(n / (rate * 2)).toFixed(3)} per msg`); }

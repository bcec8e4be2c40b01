'use strict';
// Preload (node -r) for benches/clients/NAME.js idle: at each of the harness's two VmRSS readings,
// prints V8's physical size per space and what lies outside V8's heap (RSS minus V8's heap), so
// the per-connection RSS can be split into young generation, old generation and native memory,
// and RSS into anonymous memory and file-backed pages (node's own code, paged in as first run).
const fs = require('fs');
const v8 = require('v8');
const readFileSync = fs.readFileSync;
fs.readFileSync = function (file, ...rest) {
  if (file === '/proc/self/status') {
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), s.physical_space_size]));
    const heap = v8.getHeapStatistics().total_physical_size;
    const rss = process.memoryUsage.rss();
    const mb = (n) => (n / 1048576).toFixed(1);
    // Anonymous memory (heaps, stacks) and file-backed pages (node's own code, as it is first run).
    const status = readFileSync.call(this, file, 'utf8');
    const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) * 1024;
    process.stderr.write(`at VmRSS: rss ${mb(rss)} MB = V8 heap ${mb(heap)} (new ${mb(spaces.new)}, old ${mb(spaces.old)}, ` +
      `large ${mb(spaces.large_object)}, code ${mb(spaces.code)}) + outside V8 ${mb(rss - heap)}; ` +
      `anonymous ${mb(kb('RssAnon'))}, file-backed ${mb(kb('RssFile'))}\n`);
  }
  return readFileSync.call(this, file, ...rest);
};

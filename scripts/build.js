#!/usr/bin/env node
// Builds the native engine (release) when it is missing or older than its sources.
// `npm install` runs this; `--force` rebuilds anyway.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const { binaryPath: releasePath, faultInjectionPath } = require('../lib/native-path');

// --fault-injection: the test build with the engine's fault injection compiled in
// (LWS_TEST_PANIC_ON, see crates/engine/src/fault.rs), beside the release build.
const faultInjection = process.argv.includes('--fault-injection');
const binaryPath = faultInjection ? faultInjectionPath : releasePath;

function newestSource() {
  let newest = 0;
  const visit = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const f of fs.readdirSync(p)) visit(path.join(p, f));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['src', 'crates', 'Cargo.toml', 'build.rs', 'Cargo.lock']) {
    if (fs.existsSync(path.join(root, p))) visit(path.join(root, p));
  }
  return newest;
}

function upToDate() {
  try {
    return fs.statSync(binaryPath).mtimeMs >= newestSource();
  } catch {
    return false;
  }
}

function run(cmd, args) {
  console.log(`lws: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`lws: build failed (${cmd} exited with ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

if (!process.argv.includes('--force') && upToDate()) process.exit(0);

// Builds go to a staging folder and the result is renamed into place, so a
// process that has the old engine loaded keeps a valid file.
const staging = path.join(root, 'native', faultInjection ? '.staging-fault-injection' : '.staging');
fs.mkdirSync(staging, { recursive: true });
// One cargo build at a time on this machine (flock, where available).
const locked = (cmd, args) => (spawnSync('flock', ['--version']).status === 0 ? ['flock', ['/tmp/lws-cargo.lock', cmd, ...args]] : [cmd, args]);
const napiCli = path.join(root, 'node_modules', '.bin', 'napi');
let built;
if (fs.existsSync(napiCli)) {
  const features = faultInjection ? ['--features', 'fault-injection'] : [];
  run(...locked(napiCli, ['build', '--release', '--platform', '--no-js', '--output-dir', staging, '--dts', 'native.d.ts', ...features]));
  built = path.join(staging, path.basename(releasePath));
} else {
  // Installed as a dependency (no dev tools): plain cargo, then copy the library.
  run(...locked('cargo', ['build', '--release', ...(faultInjection ? ['--features', 'fault-injection'] : [])]));
  built = path.join(staging, 'lws.node');
  fs.copyFileSync(path.join(root, 'target', 'release', process.platform === 'darwin' ? 'liblws.dylib' : 'liblws.so'), built);
}
fs.renameSync(built, binaryPath);
// napi may leave the file's mtime older than a source touched during the build.
const now = new Date();
fs.utimesSync(binaryPath, now, now);

#!/usr/bin/env node
// Builds the native engine (release) when it is missing or older than its sources.
// `npm install` runs this; `--force` rebuilds anyway.
// In a clone of the repository it always builds (a local build is what lib/native-path.js
// loads first). Installed as a dependency, it builds only when no prebuilt binary fits
// (no lws-<platform> package loads) and cargo is there; without cargo it leaves the
// explanation to require('lws'), which names the platform and the ways out.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const native = require('../lib/native-path');
const { binaryPath: releasePath, faultInjectionPath } = native;

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

/** A clone of the repository (git, or its dev dependencies installed), not a package installed by npm. */
function isCheckout() {
  return fs.existsSync(path.join(root, '.git')) || fs.existsSync(path.join(root, 'node_modules', '.bin', 'napi'));
}

/** Load errors of this platform's prebuilt package, or null when it loads. */
function prebuiltErrors() {
  const file = native.prebuiltPath();
  if (!file) return [];
  try {
    require(file);
    return null;
  } catch (error) {
    return [{ file, error }];
  }
}

function hasCargo() {
  return spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status === 0;
}

const force = process.argv.includes('--force');
if (!force && upToDate()) process.exit(0);
if (!force && !faultInjection && !isCheckout()) {
  const errors = prebuiltErrors();
  if (!errors) process.exit(0); // the prebuilt binary fits
  if (!hasCargo()) {
    console.warn(native.notFoundError(errors).message);
    process.exit(0);
  }
  console.log(`lws: no prebuilt binary loads on ${native.platform}: building the engine from source with cargo (a few minutes)`);
}

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
  const library = { darwin: 'liblws.dylib', win32: 'lws.dll' }[process.platform] || 'liblws.so';
  fs.copyFileSync(path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'release', library), built);
}
fs.renameSync(built, binaryPath);
// napi may leave the file's mtime older than a source touched during the build.
const now = new Date();
fs.utimesSync(binaryPath, now, now);

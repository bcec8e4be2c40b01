#!/usr/bin/env node
// Builds the native engine (release) when it is missing or older than its sources.
// `npm install` runs this; `--force` rebuilds anyway.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const { binaryPath } = require('../lib/native-path');

function newestSource() {
  let newest = 0;
  const visit = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const f of fs.readdirSync(p)) visit(path.join(p, f));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['src', 'Cargo.toml', 'build.rs', 'Cargo.lock']) {
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

const napiCli = path.join(root, 'node_modules', '.bin', 'napi');
if (fs.existsSync(napiCli)) {
  run(napiCli, ['build', '--release', '--platform', '--no-js', '--output-dir', 'native', '--dts', 'native.d.ts']);
} else {
  // Installed as a dependency (no dev tools): plain cargo, then copy the library.
  run('cargo', ['build', '--release']);
  fs.mkdirSync(path.dirname(binaryPath), { recursive: true });
  fs.copyFileSync(path.join(root, 'target', 'release', process.platform === 'darwin' ? 'liblws.dylib' : 'liblws.so'), binaryPath);
}
// napi may leave the file's mtime older than a source touched during the build.
const now = new Date();
fs.utimesSync(binaryPath, now, now);

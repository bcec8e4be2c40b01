'use strict';
// The per-platform packages (npm/<platform>/), the optionalDependencies that name them and
// the loader's list agree; the loader's error names the platform and both ways out.
// scripts/pack-test.sh (run by .ci/run) installs the packed tarballs for real.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const native = require('../lib/native-path');
const pkg = require('../package.json');

const root = path.join(__dirname, '..');

test('npm/<platform>/ packages and the loader list the same platforms, at one version; the repository names none as a dependency', () => {
  const dirs = fs.readdirSync(path.join(root, 'npm')).sort();
  assert.deepEqual(dirs, [...native.PREBUILT].sort());
  // napi pre-publish adds them when publishing (scripts/pack-test.sh stages that form): a
  // clone's npm install must not fetch packages of these names from the registry.
  assert.equal(pkg.optionalDependencies, undefined);
  assert.equal(pkg.napi.targets.length, dirs.length);
  for (const dir of dirs) {
    const sub = require(path.join(root, 'npm', dir, 'package.json'));
    assert.equal(sub.name, `${pkg.name}-${dir}`);
    assert.equal(sub.version, pkg.version, `${dir}: run "napi version" (npm version does)`);
    assert.equal(sub.main, `${pkg.napi.binaryName}.${dir}.node`);
    assert.deepEqual(sub.files, [sub.main]);
    const [os, cpu, abi] = dir.split('-');
    assert.deepEqual(sub.os, [os]);
    assert.deepEqual(sub.cpu, [cpu]);
    if (os === 'linux') assert.deepEqual(sub.libc, [abi === 'musl' ? 'musl' : 'glibc']);
  }
});

// .github/workflows/prebuild.yml runs this on each platform it builds for.
const expected = process.env.LWS_EXPECT_PLATFORM || 'linux-x64-gnu';

test(`this machine is ${expected}, and a local build is found before the platform package`, () => {
  assert.equal(native.platform, expected);
  assert.equal(native.packageName, `lws-${expected}`);
  assert.equal(native.binaryPath, path.join(root, 'native', `lws.${expected}.node`));
  assert.equal(native.loadNative().path, native.binaryPath);
});

test('no engine: one error naming the platform and the two ways out', () => {
  const err = native.notFoundError([{ file: '/x/lws.linux-x64-gnu.node', error: new Error('invalid ELF header\nmore') }]);
  assert.equal(err.code, 'ERR_LWS_NO_NATIVE_ENGINE');
  assert.equal(err.platform, 'linux-x64-gnu');
  assert.match(err.message, /^lws: no native engine for linux-x64, glibc \(process\.platform linux, process\.arch x64\)\.\n/);
  assert.match(err.message, /optional dependency lws-linux-x64-gnu: install again without --omit=optional/);
  assert.match(err.message, /install a Rust toolchain \(cargo, .*\), then run `npm install`/);
  assert.match(err.message, /\(\/x\/lws\.linux-x64-gnu\.node did not load: invalid ELF header\)$/);
  assert.equal(err.cause.message, 'invalid ELF header\nmore');
});

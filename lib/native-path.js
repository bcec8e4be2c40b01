'use strict';
// Finds the native engine, in this order (napi-rs style):
//   1. a local build: native/lws.<platform>.node (a clone of the repository, or a source
//      build made by `npm install` where no prebuilt binary fits; scripts/build.js writes it)
//   2. the prebuilt binary of this platform: the package lws-<platform>, one of lws's
//      optionalDependencies (npm installs only the one whose os/cpu/libc match)
// and otherwise throws one error naming the platform and the two ways out.
// (In lib/, not lib/core/: scripts/build.js reads it too, to know where to build and
// whether a prebuilt binary fits.)
const fs = require('fs');
const path = require('path');

/** The platforms with a prebuilt package (npm/<platform>/, .github/workflows/prebuild.yml). */
const PREBUILT = ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc'];

function isMusl() {
  // The loader napi-rs generates asks the same two questions: ldd's text, then the report.
  try {
    return fs.readFileSync('/usr/bin/ldd', 'latin1').includes('musl');
  } catch {
    if (typeof process.report?.getReport !== 'function') return false;
    process.report.excludeNetwork = true; // no DNS lookups for the network part of the report
    return !process.report.getReport().header?.glibcVersionRuntime;
  }
}

function abiSuffix() {
  if (process.platform === 'linux') return isMusl() ? '-musl' : '-gnu';
  if (process.platform === 'win32') return '-msvc';
  return '';
}

/** e.g. `linux-x64-gnu`, as napi-rs names platforms. */
const platform = `${process.platform}-${process.arch}${abiSuffix()}`;
const native = path.join(__dirname, '..', 'native');
const localBuildPath = path.join(native, `lws.${platform}.node`);
const packageName = `lws-${platform}`;

/** The prebuilt binary's path if its package is installed, else null. */
function prebuiltPath() {
  try {
    return require.resolve(packageName);
  } catch {
    return null;
  }
}

function describePlatform() {
  const libc = process.platform === 'linux' ? (platform.endsWith('-musl') ? ', musl' : ', glibc') : '';
  return `${process.platform}-${process.arch}${libc}`;
}

/** The one message for "no engine fits"; `tried` lists the load errors met on the way. */
function notFoundError(tried) {
  const prebuilt = PREBUILT.includes(platform)
    ? `npm installs it from the optional dependency ${packageName}: install again without --omit=optional / --no-optional, on this same platform (a node_modules copied from another OS or CPU does not fit)`
    : `there is no prebuilt binary for this platform (prebuilt: ${PREBUILT.join(', ')})`;
  const lines = [
    `lws: no native engine for ${describePlatform()} (process.platform ${process.platform}, process.arch ${process.arch}).`,
    `Two ways out:`,
    `  - use a prebuilt binary: ${prebuilt};`,
    `  - or build it from source: install a Rust toolchain (cargo, https://rustup.rs), then run \`npm install\` (or \`npm rebuild lws\`) again.`,
  ];
  for (const { file, error } of tried) lines.push(`(${file} did not load: ${error.message.split('\n')[0]})`);
  const err = new Error(lines.join('\n'));
  err.code = 'ERR_LWS_NO_NATIVE_ENGINE';
  err.platform = platform;
  if (tried.length) err.cause = tried[tried.length - 1].error;
  return err;
}

/**
 * Loads the engine: `{ binding, path }`. `faultInjection`: the test build only
 * (`node scripts/build.js --fault-injection`), never a prebuilt one.
 */
function loadNative({ faultInjection = false } = {}) {
  if (faultInjection) {
    try {
      return { binding: require(exports.faultInjectionPath), path: exports.faultInjectionPath };
    } catch (err) {
      err.message = `lws: LWS_TEST_PANIC_ON needs the fault-injection build at ${exports.faultInjectionPath} ("node scripts/build.js --fault-injection"): ${err.message}`;
      throw err;
    }
  }
  const tried = [];
  for (const file of [fs.existsSync(localBuildPath) ? localBuildPath : null, prebuiltPath()]) {
    if (!file) continue;
    try {
      return { binding: require(file), path: file };
    } catch (error) {
      tried.push({ file, error });
    }
  }
  throw notFoundError(tried);
}

exports.platform = platform;
exports.packageName = packageName;
exports.PREBUILT = PREBUILT;
/** Where scripts/build.js puts a local build. */
exports.binaryPath = localBuildPath;
/** The test build with fault injection compiled in (`scripts/build.js --fault-injection`). */
exports.faultInjectionPath = path.join(native, `lws.${platform}.fault-injection.node`);
exports.prebuiltPath = prebuiltPath;
exports.notFoundError = notFoundError;
exports.loadNative = loadNative;

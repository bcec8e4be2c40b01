'use strict';
// Where the built engine lives: native/lws.<platform>-<arch>[-gnu|-musl].node
// (in lib/, not lib/core/: scripts/build.js reads it too, to know where to build)
const path = require('path');

function abiSuffix() {
  if (process.platform !== 'linux') return '';
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
  return report && report.header && report.header.glibcVersionRuntime ? '-gnu' : '-musl';
}

const platform = `${process.platform}-${process.arch}${abiSuffix()}`;
exports.binaryPath = path.join(__dirname, '..', 'native', `lws.${platform}.node`);
/** The test build with fault injection compiled in (`scripts/build.js --fault-injection`). */
exports.faultInjectionPath = path.join(__dirname, '..', 'native', `lws.${platform}.fault-injection.node`);

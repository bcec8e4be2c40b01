'use strict';
// Loads the engine built by scripts/build.js.
const { binaryPath: releasePath, faultInjectionPath } = require('./native-path');

// A test asking the engine to panic on a payload (src/fault.rs) needs the build
// that has fault injection compiled in; release builds ignore the variable.
const binaryPath = process.env.LWS_TEST_PANIC_ON ? faultInjectionPath : releasePath;

let binding;
try {
  binding = require(binaryPath);
} catch (err) {
  err.message = `lws: cannot load the native engine at ${binaryPath} (run "npm install" or "npm run build"${binaryPath === faultInjectionPath ? ', and "node scripts/build.js --fault-injection" for LWS_TEST_PANIC_ON' : ''}): ${err.message}`;
  throw err;
}
module.exports = binding;

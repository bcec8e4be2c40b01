'use strict';
// Loads the engine built by scripts/build.js.
const { binaryPath } = require('./native-path');

let binding;
try {
  binding = require(binaryPath);
} catch (err) {
  err.message = `lws: cannot load the native engine at ${binaryPath} (run "npm install" or "npm run build"): ${err.message}`;
  throw err;
}
module.exports = binding;

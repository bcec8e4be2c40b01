'use strict';
// The package's two process-wide settings (setBinaryFragmentation and
// setMaxBufferLength), read at each use as the package reads them.

const limits = {
  /** beginBinary(): writes are gathered into frames of at least this many bytes. */
  binaryFragmentation: 512 * 1024,
  /** A text message larger than this closes the connection with 1009. */
  maxBufferLength: 2 * 1024 * 1024,
};

function byteCount(name, bytes) {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new TypeError(`${name}() takes a number of bytes (a non-negative integer)`);
  return bytes;
}

function setBinaryFragmentation(bytes) {
  limits.binaryFragmentation = byteCount('setBinaryFragmentation', bytes);
}

function setMaxBufferLength(bytes) {
  limits.maxBufferLength = byteCount('setMaxBufferLength', bytes);
}

module.exports = { limits, setBinaryFragmentation, setMaxBufferLength };

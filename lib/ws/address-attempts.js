'use strict';
// The addresses a client connection tries, in order, as Node's net.connect does
// for ws (through http.request). With `autoSelectFamily` (Node's default since
// 20) a name is looked up with `all: true` and every address is tried, the
// families alternating from the first one's (RFC 8305): a `localhost` that
// resolves to ::1 first still reaches a server listening on 127.0.0.1 only.
// When all fail, the error is an AggregateError of each attempt's error.
// Node also moves on after `autoSelectFamilyAttemptTimeout` when an attempt is
// still connecting; here the next address is tried when one fails.

const net = require('net');
const dns = require('dns');
const { clientHandshake: { resolve } } = require('../core');

/** Whether net.connect would try every address of `host` (its lookupAndConnect). */
function triesEveryAddress(host, opts) {
  if (net.isIP(host) || opts.family === 4 || opts.family === 6 || opts.localAddress) return false;
  const byDefault = typeof net.getDefaultAutoSelectFamily === 'function' && net.getDefaultAutoSelectFamily();
  return opts.autoSelectFamily ?? byDefault;
}

/**
 * The addresses to try for `host`, in order: callback(err, [{ address, family }]).
 * One address unless net.connect would try several (triesEveryAddress).
 */
function addressAttempts(host, opts, callback) {
  if (!triesEveryAddress(host, opts)) {
    resolve(host, { lookup: opts.lookup, family: opts.family }, (err, address, family) => {
      if (err) callback(err);
      else callback(null, [{ address, family }]);
    });
    return;
  }
  const lookup = opts.lookup || dns.lookup;
  lookup(host, { family: 0, all: true, hints: opts.hints || 0 }, (err, addresses, family) => {
    if (err) return callback(err);
    // A custom lookup may answer with one address whatever it was asked.
    if (!Array.isArray(addresses)) addresses = [{ address: addresses, family }];
    callback(null, alternateFamilies(addresses));
  });
}

/**
 * net's order: IPv4 and IPv6 addresses (each once), the first one's family first,
 * then alternating. Nothing valid: the first address as it is (its connect fails as Node's would).
 */
function alternateFamilies(addresses) {
  const groups = [[], []];
  const seen = new Set();
  let firstFamily = 0;
  for (const { address, family } of addresses) {
    if (!net.isIP(address) || (family !== 4 && family !== 6) || seen.has(address)) continue;
    if (firstFamily === 0) firstFamily = family;
    seen.add(address);
    groups[family === firstFamily ? 0 : 1].push({ address, family });
  }
  if (seen.size === 0) return addresses.slice(0, 1);
  const ordered = [];
  for (let i = 0; i < Math.max(groups[0].length, groups[1].length); i++) {
    if (i < groups[0].length) ordered.push(groups[0][i]);
    if (i < groups[1].length) ordered.push(groups[1][i]);
  }
  return ordered;
}

/** The error of a connection none of whose `errors` (one per address tried) succeeded, as net's. */
function attemptsError(errors) {
  if (errors.length === 1) return errors[0];
  const err = new AggregateError(errors);
  err.code = errors[0].code;
  return err;
}

module.exports = { addressAttempts, attemptsError };

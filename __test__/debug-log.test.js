'use strict';
// NODE_DEBUG=lws: connection lifecycle through util.debuglog, as Node's own modules
// log; nothing without it, and nothing per message with it.
//
// Run: node --test __test__/debug-log.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile } = require('node:child_process');

const CHILD = path.join(__dirname, 'fixtures', 'debug-log-child.js');

function runChild(env) {
  return new Promise((resolve, reject) => {
    const childEnv = { ...process.env, ...env };
    if (env.NODE_DEBUG === undefined) delete childEnv.NODE_DEBUG;
    execFile(process.execPath, [CHILD], { env: childEnv, timeout: 30000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`child failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

test('NODE_DEBUG=lws logs open, close with its code, refused upgrades, errors and the shutdown', { timeout: 60000 }, async () => {
  const { stdout, stderr } = await runChild({ NODE_DEBUG: 'lws' });
  assert.equal(stdout, 'done\n');
  const lines = stderr.split('\n').filter((line) => line !== '');
  for (const line of lines) assert.match(line, new RegExp(`^LWS ${'\\d+'}: `), 'every line is the debuglog format "LWS <pid>: ..."');
  const text = lines.map((line) => line.replace(/^LWS \d+: /, ''));
  const inOrder = [
    /^listening on 127\.0\.0\.1 port \d+ \(threads: \d\)$/,
    /^open connection \d+ \(fd \d+\) from 127\.0\.0\.1 port \d+$/,
    /^close connection \d+: code 4001 reason "bye"$/,
    /^refused upgrade \d+ with 403$/,
    /^open connection \d+ \(fd \d+\) from 127\.0\.0\.1 port \d+$/,
    /^close connection \d+: code 1007 reason ".*", error WS_ERR_INVALID_UTF8 \(0\)$/,
    /^listen failed: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+$/,
  ];
  // Then both servers' shutdowns (the one that failed to listen too), interleaved.
  const shutdown = ['closing the server (0 connections get 1001)', 'closing the server (0 connections get 1001)', 'server stopped', 'server stopped'];
  // Exactly these lines: the 100 messages that came and went are not logged.
  assert.equal(text.length, inOrder.length + shutdown.length, `lines:\n${text.join('\n')}`);
  inOrder.forEach((pattern, i) => assert.match(text[i], pattern));
  assert.deepEqual(text.slice(inOrder.length).sort(), shutdown.sort());
});

test('without NODE_DEBUG=lws nothing is logged', { timeout: 60000 }, async () => {
  const { stdout, stderr } = await runChild({ NODE_DEBUG: undefined });
  assert.equal(stdout, 'done\n');
  assert.equal(stderr, '');
});

#!/usr/bin/env node
// Echo client for the Autobahn fuzzingserver (scripts/autobahn-client.sh), on lws.Client:
// every case is one connection whose messages are sent back unchanged, as the suite's
// client mode expects (../shared/autobahn/README.md, "Testing a client").
// Usage: node scripts/echo-client.js URL AGENT [--js-thread]
'use strict';
const lws = require('..');

const base = (process.argv[2] || 'ws://127.0.0.1:9001').replace(/\/+$/, '');
const agent = process.argv[3] || 'lws-client';
const threads = process.argv.includes('--js-thread') ? 0 : 1;
// permessage-deflate offered as ws offers it by default (with client_max_window_bits, taking
// whatever the server answers), so 12.*/13.* run.
const client = new lws.Client({ threads, maxMessageSize: 64 * 1024 * 1024, perMessageDeflate: true });

/** One connection; resolves with the text messages received (echo: sends each back instead). */
function run(path, echo) {
  return new Promise((resolve) => {
    const socket = client.connect(base + path);
    const messages = [];
    client.setUserData(socket, { echo, messages, resolve });
  });
}
client.on('message', (socket, message, binary) => {
  const state = client.getUserData(socket);
  if (state.echo) client.send(socket, message, binary);
  else state.messages.push(message.toString());
});
client.on('error', () => {}); // protocol errors are expected while fuzzing
client.on('close', (socket) => {
  const state = client.getUserData(socket);
  state.resolve(state.messages);
});

(async () => {
  const [count] = await run('/getCaseCount', false);
  const n = Number(count);
  if (!Number.isInteger(n)) throw new Error(`getCaseCount answered ${count}`);
  for (let i = 1; i <= n; i++) await run(`/runCase?case=${i}&agent=${encodeURIComponent(agent)}`, true);
  await run(`/updateReports?agent=${encodeURIComponent(agent)}`, false);
  client.close();
})().catch((err) => {
  console.error(err);
  process.exit(1);
});

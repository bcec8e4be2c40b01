#!/usr/bin/env node
'use strict';
// Echo client for the Autobahn fuzzingserver (../shared/autobahn/run-client.sh), on the
// candidate client of the client suites: lws.WebSocket, or ws's client with
// LWS_CLIENT_CANDIDATE=ws (the reference run).
//
// Usage: node scripts/autobahn-client.js URL AGENT
//   URL    the fuzzing server, e.g. ws://127.0.0.1:9001 (run-client.sh passes $AB_URL)
//   AGENT  the agent name in the report (run-client.sh passes $AB_AGENT)
// It drives the server as every Autobahn client does: URL/getCaseCount (one text
// message, N), then URL/runCase?case=I&agent=AGENT for I = 1..N one after the other,
// echoing every message with its type until the server closes, then
// URL/updateReports?agent=AGENT. Exit status: 0 when the case count and the report
// worked (case verdicts are in the report), 1 otherwise, 2 on bad arguments.
// Every connection is bounded in time (LWS_AB_CASE_TIMEOUT seconds, default 600: the
// longest Autobahn case limit is 480 s), so a client that hangs ends the run.

const path = require('node:path');

const USAGE = 'usage: node scripts/autobahn-client.js URL AGENT   (URL: ws://host:port, no path; AGENT: [A-Za-z0-9._-]+)';

function parseArgs(argv) {
  if (argv.includes('-h') || argv.includes('--help')) return { help: true };
  if (argv.length !== 2) return { error: `expected 2 arguments, got ${argv.length}` };
  const [url, agent] = argv;
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return { error: `not a URL: ${url}` };
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') return { error: `the URL must be ws: or wss:, not ${parsed.protocol}` };
  if (parsed.pathname !== '/' || parsed.search || parsed.hash) return { error: `the URL must have no path, query or fragment: ${url}` };
  if (!/^[A-Za-z0-9._-]+$/.test(agent)) return { error: `bad agent name: ${agent}` };
  return { base: url.replace(/\/+$/, ''), agent };
}

const caseTimeout = () => {
  const v = process.env.LWS_AB_CASE_TIMEOUT;
  if (v === undefined || v === '') return 600000;
  if (!/^\d+$/.test(v) || Number(v) === 0) throw new Error('LWS_AB_CASE_TIMEOUT must be a positive whole number of seconds');
  return Number(v) * 1000;
};

/** One connection; resolves with the text messages received (echo: false) once closed. */
function connect(WebSocket, url, echo, timeoutMs) {
  return new Promise((resolve, reject) => {
    const messages = [];
    let error = null;
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      error = new Error(`no close after ${timeoutMs} ms`);
      ws.terminate();
    }, timeoutMs);
    ws.on('message', (data, isBinary) => {
      if (echo) ws.send(data, { binary: isBinary });
      else messages.push(data.toString());
    });
    // Protocol errors are expected while fuzzing: the client closes by itself.
    ws.on('error', (err) => {
      error = err;
    });
    ws.on('close', () => {
      clearTimeout(timer);
      if (error && !echo && messages.length === 0) reject(error);
      else resolve(messages);
    });
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.error) {
    console.error(`autobahn-client: ${args.error}\n${USAGE}`);
    return 2;
  }
  let timeoutMs;
  try {
    timeoutMs = caseTimeout();
  } catch (err) {
    console.error(`autobahn-client: ${err.message}`);
    return 2;
  }
  const candidate = require(path.join(__dirname, '..', '__test__', 'helpers', 'client-candidate'));
  const { WebSocket } = candidate;
  const { base, agent } = args;
  let count;
  try {
    const [msg] = await connect(WebSocket, `${base}/getCaseCount`, false, timeoutMs);
    count = Number.parseInt(msg, 10);
  } catch (err) {
    console.error(`autobahn-client: ${base}/getCaseCount: ${err.message}`);
    return 1;
  }
  if (!Number.isInteger(count) || count < 0) {
    console.error(`autobahn-client: ${base}/getCaseCount did not send a number`);
    return 1;
  }
  console.log(`autobahn-client (${candidate.name}): ${count} cases from ${base} as agent '${agent}'`);
  const a = encodeURIComponent(agent);
  for (let i = 1; i <= count; i++) {
    await connect(WebSocket, `${base}/runCase?case=${i}&agent=${a}`, true, timeoutMs).catch((err) => {
      console.error(`autobahn-client: case ${i}: ${err.message}`);
    });
  }
  try {
    await connect(WebSocket, `${base}/updateReports?agent=${a}`, false, timeoutMs);
  } catch (err) {
    console.error(`autobahn-client: ${base}/updateReports: ${err.message}`);
    return 1;
  }
  console.log(`autobahn-client: ran ${count} cases, reports updated`);
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(`autobahn-client: ${err.stack}`);
      process.exitCode = 1;
    },
  );
}

module.exports = { parseArgs };

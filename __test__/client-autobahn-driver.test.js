'use strict';
// scripts/autobahn-client.sh and scripts/autobahn-client.js without Autobahn: their
// argument handling, and the client's driving protocol against a fake fuzzingserver
// (a ws server that speaks getCaseCount / runCase / updateReports), with the candidate
// client (helpers/client-candidate.js; the child inherits LWS_CLIENT_CANDIDATE).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile } = require('node:child_process');
const WS = require('ws');
const { within } = require('./helpers/wait');

const ROOT = path.join(__dirname, '..');
const SCRIPT_JS = path.join(ROOT, 'scripts', 'autobahn-client.js');
const SCRIPT_SH = path.join(ROOT, 'scripts', 'autobahn-client.sh');

function run(file, args, env = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 60000, killSignal: 'SIGKILL', env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

test('autobahn-client.sh: syntax, and usage errors exit 2 before anything runs', async () => {
  assert.equal((await run('bash', ['-n', SCRIPT_SH])).code, 0);
  const missingRunner = { AB_RUNNER: '/nonexistent/run-client.sh' };
  for (const args of [['--bogus'], ['a;b'], ['1.*', '2.*'], ['$(true)']]) {
    const r = await run('bash', [SCRIPT_SH, ...args], missingRunner);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, /usage: scripts\/autobahn-client\.sh/);
  }
  const help = await run('bash', [SCRIPT_SH, '--help']);
  assert.equal(help.code, 0);
  const noRunner = await run('bash', [SCRIPT_SH, '1.*'], missingRunner);
  assert.equal(noRunner.code, 2);
  assert.match(noRunner.stderr, /no \/nonexistent\/run-client\.sh/);
});

test('autobahn-client.sh: hands run-client.sh the client command, the cases and the agent', async () => {
  // A stand-in runner that prints what it was given.
  const fake = path.join(require('node:os').tmpdir(), `lws-fake-runner-${process.pid}.sh`);
  require('node:fs').writeFileSync(fake, '#!/usr/bin/env bash\nprintf "%s\\n" "$@" "agent=$AB_AGENT" "port=$AB_PORT" "candidate=$LWS_CLIENT_CANDIDATE"\n');
  try {
    const r = await run('bash', [SCRIPT_SH, '1.1.*,2.*', '--ws'], { AB_RUNNER: fake, AB_PORT: '9999' });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], `node '${SCRIPT_JS}' "$AB_URL" "$AB_AGENT"`);
    assert.deepEqual(lines.slice(1), ['1.1.*,2.*', '/tmp/lws-autobahn-client-report-ws-client', 'agent=ws-client', 'port=9999', 'candidate=ws']);
    const d = await run('bash', [SCRIPT_SH], { AB_RUNNER: fake });
    assert.match(d.stdout, /^1\.\*,2\.\*,.*13\.5\.\*$/m);
    assert.match(d.stdout, /^agent=lws-client$/m);
    assert.match(d.stdout, /^candidate=lws$/m);
  } finally {
    require('node:fs').rmSync(fake, { force: true });
  }
});

test('autobahn-client.js: bad arguments exit 2 with the usage', async () => {
  for (const args of [[], ['ws://127.0.0.1:9001'], ['http://127.0.0.1:9001', 'a'], ['ws://127.0.0.1:9001/x', 'a'], ['ws://127.0.0.1:9001', 'a b'], ['nope', 'a']]) {
    const r = await run(process.execPath, [SCRIPT_JS, ...args]);
    assert.equal(r.code, 2, `${JSON.stringify(args)}: ${r.stderr}`);
    assert.match(r.stderr, /usage: node scripts\/autobahn-client\.js URL AGENT/);
  }
  const r = await run(process.execPath, [SCRIPT_JS, 'ws://127.0.0.1:9001', 'a'], { LWS_AB_CASE_TIMEOUT: 'soon' });
  assert.equal(r.code, 2);
});

test('autobahn-client.js drives a fake fuzzingserver: case count, every case echoed, report', async (t) => {
  const wss = new WS.WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.after(() => new Promise((resolve) => wss.close(resolve)));
  await within(5000, 'listening', (resolve) => wss.once('listening', resolve));
  const requests = [];
  const echoes = [];
  wss.on('connection', (ws, req) => {
    const url = new URL(req.url, 'ws://x');
    requests.push(`${url.pathname}${url.search}`);
    if (url.pathname === '/getCaseCount') {
      ws.send('3');
      ws.close(1000);
    } else if (url.pathname === '/runCase') {
      const i = url.searchParams.get('case');
      if (i === '2') {
        ws.terminate(); // a case whose connection drops: the client goes on
        return;
      }
      ws.once('message', (data, isBinary) => {
        echoes.push([i, data.toString(), isBinary]);
        ws.close(1000);
      });
      ws.send(`case ${i}`, { binary: i === '3' });
    } else if (url.pathname === '/updateReports') {
      ws.close(1000);
    }
  });
  const r = await run(process.execPath, [SCRIPT_JS, `ws://127.0.0.1:${wss.address().port}`, 'tester']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(requests, ['/getCaseCount', '/runCase?case=1&agent=tester', '/runCase?case=2&agent=tester', '/runCase?case=3&agent=tester', '/updateReports?agent=tester']);
  assert.deepEqual(echoes, [['1', 'case 1', false], ['3', 'case 3', true]]);
  assert.match(r.stdout, /3 cases from ws:\/\/127\.0\.0\.1:\d+ as agent 'tester'/);
});

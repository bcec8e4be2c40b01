'use strict';
// wss:// workloads: echo 16 B x 16 in flight and 64 KiB, and TLS handshakes/s, every server with
// the same certificate (ECDSA P-256, signed by a test CA made here with openssl; the loadgen
// trusts that CA and resumes no session, so every handshake is a full one).
// Server rows (benches/servers/*.js --tls DIR): lws.Server's `ssl` option (rustls in the engine),
// uWebSockets.js `SSLApp`, ws and lws's WebSocketServer behind Node's `https.createServer`.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const DIR = path.join(os.tmpdir(), `lws-bench-tls-${process.pid}`);

/** Makes the CA and the server certificate (for 127.0.0.1) once per run; removed at exit. */
function prepare() {
  if (fs.existsSync(path.join(DIR, 'server.pem'))) return;
  fs.mkdirSync(DIR, { recursive: true });
  process.on('exit', () => fs.rmSync(DIR, { recursive: true, force: true }));
  const run = (...args) => execFileSync('openssl', args, { cwd: DIR, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-days', '2', '-subj', '/CN=lws bench CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  fs.writeFileSync(path.join(DIR, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('req', ...ec, '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.pem');
}

function notApplicable(srv) {
  return srv.bin ? 'no TLS in the ceiling server' : null;
}

function workloads(quick) {
  const secs = quick ? 2 : 4;
  const tls = ['--tls-ca', path.join(DIR, 'ca.pem')];
  const serverArgs = ['--tls', DIR];
  const common = { notApplicable, prepare, serverArgs };
  return [
    { id: 'wss-echo16x16', kind: 'echo', ...common, title: `wss:// echo 16 B text, 100 conns x 16 in flight, ${secs} s`,
      args: ['--conns', '100', '--size', '16', '--inflight', '16', '--secs', String(secs), ...tls], secs },
    { id: 'wss-echo64k', kind: 'echo', ...common, title: `wss:// echo 64 KiB binary, 10 conns x 4 in flight, ${secs} s`,
      args: ['--conns', '10', '--size', '65536', '--inflight', '4', '--secs', String(secs), '--binary', ...tls], secs },
    { id: 'wss-handshakes', kind: 'handshakes', ...common,
      title: `wss:// handshakes (full TLS, ECDSA P-256; close handshake each), ${quick ? 500 : '4,000'} at 100 concurrent`,
      args: ['--total', String(quick ? 500 : 4000), '--concurrency', '100', ...tls], secs: 60 },
  ];
}

module.exports = { workloads };

'use strict';
// Several processes on one port: Node's cluster forks one worker per core, and
// each listens with `reusePort: true` (SO_REUSEPORT), so the kernel spreads the
// connections over them. Run: node examples/cluster.js [PORT] [WORKERS]
const cluster = require('node:cluster');
const os = require('node:os');
const lws = require('lws');

const port = Number(process.argv[2] || 3000);
const workers = Number(process.argv[3] || os.availableParallelism());

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  const server = new lws.Server({ port, reusePort: true });
  server.on('connection', (socket) => server.send(socket, `served by process ${process.pid}`));
  server.on('message', (socket, message, binary) => server.send(socket, message, binary));
  server.on('listening', () => console.log(`process ${process.pid} listening on ${port}`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

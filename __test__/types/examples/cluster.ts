// examples/cluster.js as TypeScript (checked by __test__/types.test.js). Several processes on one port: Node's cluster forks one worker per core, and
// each listens with `reusePort: true` (SO_REUSEPORT), so the kernel spreads the
// connections over them. Run: node examples/cluster.js [PORT] [WORKERS]
// With REDIS_URL=redis://host:6379 the workers (and any other process attached to
// that Redis) share pub/sub topics: "broadcast TEXT" reaches every connection.
const cluster = require('node:cluster');
const os = require('node:os');
import * as lws from 'lws';

const port = Number(process.argv[2] || 3000);
const workers = Number(process.argv[3] || os.availableParallelism());
const redis = process.env.REDIS_URL;

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  const server = new lws.Server({ port, reusePort: true, ...(redis ? { pubsub: { redis } } : {}) });
  server.on('connection', (socket) => {
    server.subscribe(socket, 'all');
    server.send(socket, `served by process ${process.pid}`);
  });
  server.on('message', (socket, message, binary) => {
    const text = binary ? '' : String(message);
    if (text.startsWith('broadcast ')) server.publish('all', `${process.pid} relays: ${text.slice(10)}`);
    else server.send(socket, message, binary);
  });
  server.on('listening', () => console.log(`process ${process.pid} listening on ${port}${redis ? ', topics through Redis' : ''}`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

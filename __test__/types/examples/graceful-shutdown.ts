// examples/graceful-shutdown.js as TypeScript (checked by __test__/types.test.js). Graceful shutdown on SIGTERM (what `docker stop` and Kubernetes send): stop accepting
// at once, close every WebSocket with 1001 "going away" so clients reconnect elsewhere,
// then exit 0.
//   node examples/graceful-shutdown.js     then: kill -TERM <pid>
import * as lws from 'lws';

const server = new lws.Server({ port: Number(process.env.PORT ?? 3000) });
server.on('message', (socket, message, binary) => server.send(socket, message, binary));

process.once('SIGTERM', () => {
  console.log('SIGTERM: shutting down');
  server.stopListening(); // the port is free now: new connections go to the next instance
  server.close(() => process.exit(0)); // every socket closes with 1001, then this runs
  // Clients that do not answer the close are cut after `closeTimeout` (5 s); this is a last resort.
  setTimeout(() => process.exit(1), 10000).unref();
});

server.on('listening', () => console.log(`echo on ws://localhost:${server.port}/ (pid ${process.pid})`));
server.on('error', (err) => {
  console.error(err.message);
  process.exit(1);
});

'use strict';
// Messages as streams: each incoming message is hashed as it arrives (a
// Readable per message, which pauses the socket while full, so a large upload
// never sits in memory), and "download N" answers with N bytes sent as one
// message through a Writable. Run: node examples/streams.js [PORT]
const crypto = require('crypto');
const { pipeline } = require('stream/promises');
const lws = require('lws');

const server = new lws.Server({ port: Number(process.env.PORT ?? process.argv[2] ?? 8080), maxMessageSize: 1 << 30 });

server.on('messageStream', async (socket, readable, binary) => {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  const chunks = [];
  for await (const chunk of readable) {
    hash.update(chunk);
    bytes += chunk.length;
    if (!binary && bytes <= 64) chunks.push(chunk);
  }
  const command = /^download (\d+)$/.exec(Buffer.concat(chunks).toString());
  if (command) {
    const total = Math.min(Number(command[1]), 1 << 30);
    const piece = Buffer.alloc(64 * 1024, 42);
    await pipeline(async function* () {
      for (let sent = 0; sent < total; sent += piece.length) yield piece.subarray(0, Math.min(piece.length, total - sent));
    }, server.sendStream(socket));
    return;
  }
  server.send(socket, `${bytes} bytes, sha256 ${hash.digest('hex')}`);
});

server.on('listening', () => console.log(`listening on ws://localhost:${server.port}`));

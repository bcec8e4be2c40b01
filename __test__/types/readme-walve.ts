// A README.md snippet as TypeScript: the same lines but the import (checked by __test__/types.test.js).
import walve = require('lws/walve');                 // was: require('walve')
const server = require('http').createServer().listen(3000);
walve.createServer((wsocket) => {
  wsocket.on('incoming', (incoming) => {            // one Readable per frame, with incoming.header
    const outgoing = new walve.Outgoing({ header: { length: incoming.header.length } });
    incoming.pipe(outgoing).pipe(wsocket, { end: false });   // an Outgoing piped in = one frame out
  });
}).listen(server);

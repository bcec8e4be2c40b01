'use strict';
// The server options the deflate and wss:// workloads ask for, parsed from the echo servers'
// arguments (the same for every server script, so each maps them to its library's options):
//   --deflate no-takeover   permessage-deflate without context takeover (a connection keeps no zlib state)
//   --deflate takeover      permessage-deflate with context takeover (a compressor per connection)
//   --tls DIR               serve wss:// with DIR/server.key and DIR/server.pem (benches/workloads/tls.js makes them)
//   --reuse-port            lws.Server's reusePort: several processes on one port (benches/workloads/scale.js)
const fs = require('fs');
const path = require('path');

function serverVariant(argv = process.argv.slice(2)) {
  const value = (name) => {
    const i = argv.indexOf(name);
    if (i < 0) return null;
    if (argv[i + 1] === undefined) throw new Error(`${name} needs a value`);
    return argv[i + 1];
  };
  const deflate = value('--deflate');
  if (deflate !== null && deflate !== 'takeover' && deflate !== 'no-takeover') throw new Error(`--deflate takeover|no-takeover, not ${deflate}`);
  const dir = value('--tls');
  const tls = dir === null ? null : { keyFile: path.join(dir, 'server.key'), certFile: path.join(dir, 'server.pem') };
  if (tls && !(fs.existsSync(tls.keyFile) && fs.existsSync(tls.certFile))) throw new Error(`--tls ${dir}: no server.key and server.pem there`);
  return { deflate, tls, reusePort: argv.includes('--reuse-port') };
}

module.exports = { serverVariant };

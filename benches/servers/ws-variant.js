'use strict';
// ws's server options for the --deflate and --tls variants (benches/servers/variant.js), shared
// by the ws rows and lws's ws-compatible WebSocketServer so that both get the same settings.
const fs = require('fs');
const https = require('https');
const { serverVariant } = require('./variant');

/** `base` ({ port, host, ... }) with the variant applied; with --tls, an https server to listen on. */
function wsOptions(base) {
  const { deflate, tls } = serverVariant();
  // ws's own defaults for `true` keep the context (serverNoContextTakeover: false)
  const perMessageDeflate = deflate === 'takeover' ? true
    : deflate === 'no-takeover' ? { serverNoContextTakeover: true, clientNoContextTakeover: true }
      : false;
  if (!tls) return { options: { ...base, perMessageDeflate }, httpsServer: null };
  const { port, host, ...rest } = base;
  const httpsServer = https.createServer({ key: fs.readFileSync(tls.keyFile), cert: fs.readFileSync(tls.certFile) });
  return { options: { ...rest, server: httpsServer, perMessageDeflate }, httpsServer };
}

module.exports = { wsOptions };

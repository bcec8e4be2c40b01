'use strict';
// `threads: 0`: the engine runs on the JS thread's event loop instead of a thread of
// its own. The core server, ws-compatible server, TLS, backpressure, fault-containment,
// client, pub/sub and event-loop fairness tests run again in that mode (their servers take
// `threads` from LWS_TEST_THREADS; the fault tests' child processes inherit it).
process.env.LWS_TEST_THREADS = '0';
require('./server.test.js');
require('./ws-compat.test.js');
require('./tls.test.js');
require('./backpressure.test.js');
require('./fault.test.js');
require('./client-core.test.js');
require('./pubsub.test.js');
require('./event-loop.test.js');

'use strict';
// Engine options every suite's servers take: js-thread.test.js sets LWS_TEST_THREADS=0
// to run the suites again with the engine on the JS thread (child processes inherit it).
const ENGINE_OPTIONS = process.env.LWS_TEST_THREADS ? { threads: Number(process.env.LWS_TEST_THREADS) } : {};

module.exports = { ENGINE_OPTIONS };

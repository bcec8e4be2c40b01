'use strict';
// The README's JavaScript is consistent with the code: every ```js block parses, and
// every complete program (all but those marked `<!-- snippet: fragment -->`, see
// helpers/readme.js) runs against a real client: it starts, answers a message with
// its echo, and exits by itself once its servers are closed, with nothing on stderr.
// (types.test.js type-checks the same blocks.)
//
// Run: node --test __test__/readme.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const vm = require('node:vm');
const { spawn } = require('node:child_process');
const WebSocket = require('ws');
const { ROOT, readmeSnippets } = require('./helpers/readme');
const { withTimeout, once, opened, closed } = require('./helpers/wait');

const PRELOAD = path.join(__dirname, 'fixtures', 'readme-preload.js');
const snippets = readmeSnippets();

test('the README has JavaScript blocks', () => {
  assert.ok(snippets.length >= 2);
});

for (const snippet of snippets) {
  test(`README.md:${snippet.line}: the block parses`, () => {
    if (/^import .* from /m.test(snippet.code)) {
      // An ES module (the README's `import WebSocket from 'lws'` style): node --check it.
      const { spawnSync } = require('node:child_process');
      const r = spawnSync(process.execPath, ['--input-type=module', '--check'], { input: snippet.code, encoding: 'utf8' });
      assert.equal(r.status, 0, `README.md:${snippet.line} does not parse as a module:\n${r.stderr}`);
      return;
    }
    // As a CommonJS program (the README's require('lws') style).
    assert.doesNotThrow(() => new vm.Script(`(function (require, module, exports) {\n${snippet.code}\n})`, { filename: `README.md:${snippet.line}` }));
  });

  if (snippet.fragment) continue;
  test(`README.md:${snippet.line}: the program serves an echo and exits cleanly once closed`, { timeout: 30000 }, async () => {
    // Run from the repository, where require('lws') finds this package (self-reference).
    const env = { ...process.env };
    delete env.NODE_DEBUG;
    const child = spawn(process.execPath, ['--require', PRELOAD, '-e', snippet.code], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      const [{ port }] = await withTimeout(Promise.race([once(child, 'message', 10000), exited.then(() => { throw new Error(`exited before listening:\n${stderr}`); })]), 10000, 'the program to listen');
      const ws = await opened(new WebSocket(`ws://127.0.0.1:${port}/`));
      const echoed = withTimeout(new Promise((resolve) => {
        ws.on('message', (data) => { if (data.toString() === 'readme round trip') resolve(); });
      }), 5000, 'the echo');
      ws.send('readme round trip');
      await echoed;
      ws.close(1000);
      await closed(ws);
      child.send('close');
      const { code, signal } = await withTimeout(exited, 10000, 'the program to exit by itself');
      assert.deepEqual({ code, signal, stderr }, { code: 0, signal: null, stderr: '' }, `stdout:\n${stdout}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    }
  });
}

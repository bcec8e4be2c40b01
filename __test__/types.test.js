'use strict';
// TypeScript: every README program and every example compiles with `tsc --strict`
// against index.d.ts (their twins in __test__/types/, kept equal to them line for
// line but the import), and the ws drop-in's types accept what @types/ws accepts:
// __test__/types/parity/server-usage.ts compiles against both.
//
// Run: node --test __test__/types.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT, readmeSnippets, comparableLines } = require('./helpers/readme');

const TYPES = path.join(__dirname, 'types');
const TSC = path.join(path.dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');

/** Runs tsc on a project; fails the test with its diagnostics. */
function tsc(project) {
  try {
    execFileSync(process.execPath, [TSC, '-p', project, '--strict', '--noEmit', '--pretty', 'false'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    assert.fail(`tsc -p ${path.relative(ROOT, project)} --strict --noEmit failed:\n${err.stdout}${err.stderr}`);
  }
}

test('every README snippet has a TypeScript twin with the same lines', () => {
  // Matched by content, not by position: a block added to the README needs a twin, not a renumbering.
  const twins = fs.readdirSync(TYPES).filter((name) => /^readme-.*\.m?ts$/.test(name))
    .map((name) => ({ name, lines: comparableLines(fs.readFileSync(path.join(TYPES, name), 'utf8')) }));
  const matched = new Set();
  for (const snippet of readmeSnippets()) {
    const lines = comparableLines(snippet.code);
    const twin = twins.find((t) => JSON.stringify(t.lines) === JSON.stringify(lines));
    assert.ok(twin, `README.md:${snippet.line} has no TypeScript twin in __test__/types/readme-*.ts with the same lines (but the import):\n${snippet.code}`);
    matched.add(twin.name);
  }
  for (const { name } of twins) assert.ok(matched.has(name), `__test__/types/${name} matches no README block: update or remove it`);
});

test('every example has a TypeScript twin with the same lines', () => {
  const examples = fs.readdirSync(path.join(ROOT, 'examples')).filter((name) => name.endsWith('.js'));
  assert.ok(examples.length > 0);
  for (const name of examples) {
    const twinPath = path.join(TYPES, 'examples', name.replace(/\.js$/, '.ts'));
    assert.ok(fs.existsSync(twinPath), `examples/${name} needs a twin: __test__/types/examples/${path.basename(twinPath)}`);
    const js = fs.readFileSync(path.join(ROOT, 'examples', name), 'utf8');
    assert.deepEqual(comparableLines(fs.readFileSync(twinPath, 'utf8')), comparableLines(js), `examples/${name} and its twin differ`);
  }
});

test('the README programs and the examples compile with tsc --strict', () => {
  tsc(TYPES);
});

test('code written for ws compiles against @types/ws and against lws alike', () => {
  // Against @types/ws first: the program itself must be right for ws.
  tsc(path.join(TYPES, 'parity', 'tsconfig.ws.json'));
  tsc(path.join(TYPES, 'parity', 'tsconfig.lws.json'));
});

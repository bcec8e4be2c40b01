'use strict';
// The README's JavaScript code blocks, and the TypeScript twins that must say the same.
//
// Marker convention: a ```js block is a complete program (readme.test.js runs it)
// unless the line just before its fence is `<!-- snippet: fragment -->` (then it
// is only parsed and type-checked).

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

/** [{ index (1-based), line, code, fragment }] for every ```js block of README.md. */
function readmeSnippets(file = path.join(ROOT, 'README.md')) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const snippets = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```js') continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`README.md:${i + 1}: unterminated code block`);
    snippets.push({
      index: snippets.length + 1,
      line: i + 1,
      code: lines.slice(i + 1, end).join('\n') + '\n',
      fragment: i > 0 && lines[i - 1].trim() === '<!-- snippet: fragment -->',
    });
    i = end;
  }
  return snippets;
}

/**
 * The lines that must be equal between a JavaScript program and its TypeScript
 * twin: all but the shebang, 'use strict', comment-only lines, blank lines, the
 * lines that load lws or one of its modules (require or import), and TS lines marked `// ts-only`.
 */
function comparableLines(source) {
  return source
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => {
      const t = line.trim();
      if (t === '' || t.startsWith('#!') || t === "'use strict';" || t.startsWith('//')) return false;
      if (/require\((['"])(lws(\/[\w-]+)?|\.\.?)\1\)/.test(t) || /^import .* from 'lws';$/.test(t)) return false;
      return !t.endsWith('// ts-only');
    });
}

module.exports = { ROOT, readmeSnippets, comparableLines };

#!/usr/bin/env node
// Makes docs/chat.png, the README's picture of `npm start`: the demo on a spare
// port, two scripted members chatting in #general, and headless Chromium
// (Debian's `chromium`) showing a third member's page, captured over the
// DevTools protocol once messages have arrived. Usage: node scripts/demo-screenshot.js
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const path = require('path');
const WebSocket = require('ws');

const root = path.join(__dirname, '..');
const port = 3999;
const debugPort = 9333;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const getJson = (url) => new Promise((resolve, reject) => {
  http.get(url, (res) => {
    let body = '';
    res.on('data', (d) => { body += d; }).on('end', () => resolve(JSON.parse(body)));
  }).on('error', reject);
});

(async () => {
  const demo = spawn(process.execPath, [path.join(root, 'examples', 'demo.js')], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  const profile = fs.mkdtempSync('/tmp/lws-shot-');
  let browser;
  try {
    await sleep(800);
    const lines = [
      ['ada', 'Anyone tried lws.Client yet? 10k outgoing sockets in one process'],
      ['linus', 'yes: masking and framing in Rust, JS only sees whole messages'],
      ['ada', 'and each room is a topic: one publish, the engine fans it out'],
      ['linus', 'the live line up there comes from server.stats()'],
    ];
    const bots = {};
    for (const name of ['ada', 'linus']) {
      bots[name] = new WebSocket(`ws://127.0.0.1:${port}/`);
      bots[name].on('message', (d) => {
        if (JSON.parse(d).type === 'rooms') bots[name].send(JSON.stringify({ type: 'join', room: 'general', name }));
      });
    }
    browser = spawn('chromium', ['--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--remote-debugging-port=${debugPort}`,
      `--user-data-dir=${profile}`, '--window-size=960,520', `http://127.0.0.1:${port}/?name=you&room=general`], { stdio: 'ignore' });
    await sleep(2000);
    for (const [name, text] of lines) {
      bots[name].send(JSON.stringify({ type: 'say', text }));
      await sleep(300);
    }
    await sleep(1500); // a stats tick
    const [target] = (await getJson(`http://127.0.0.1:${debugPort}/json`)).filter((t) => t.type === 'page');
    const cdp = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((r) => cdp.once('open', r));
    const shot = await new Promise((resolve) => {
      cdp.once('message', (d) => resolve(JSON.parse(d).result.data));
      cdp.send(JSON.stringify({ id: 1, method: 'Page.captureScreenshot', params: { format: 'png' } }));
    });
    fs.mkdirSync(path.join(root, 'docs'), { recursive: true });
    fs.writeFileSync(path.join(root, 'docs', 'chat.png'), Buffer.from(shot, 'base64'));
    console.log('wrote docs/chat.png');
    cdp.close();
    for (const ws of Object.values(bots)) ws.close();
  } finally {
    if (browser) browser.kill('SIGKILL');
    demo.kill('SIGTERM');
    setTimeout(() => fs.rmSync(profile, { recursive: true, force: true }), 500);
  }
})();

// A README.md snippet as TypeScript (an ES module, as in the README): the same lines (checked by __test__/types.test.js).
import WebSocket from 'lws';                     // was: from 'ws'; or: const { WebSocket } = require('lws')
const ws = new WebSocket('wss://feed.example.com/v1', ['v1'], { headers: { Authorization: 'Bearer x' } });
ws.on('error', console.error);
ws.on('open', () => ws.send('subscribe'));
ws.on('message', (data, isBinary) => console.log('received: %s', data));

// examples/demo.js as TypeScript (checked by __test__/types.test.js). `npm start`: a small chat with rooms on lws's pub/sub, on port 3000 (PORT to
// change it). The page comes from the same port (the 'http' event); each room
// is a topic the engine fans messages out to; a live line shows connections
// and messages per second from server.stats().
//   `npm start -- --redis redis://host:6379` (or REDIS_URL) runs it across processes: rooms
//   shared through Redis by every demo attached to it (pubsub.redis).
//   The page takes ?name=NAME&room=ROOM, and for scripted runs (the tests) &say=TEXT
//   (sent once joined) and &ack=1 (answers the first message from each other member with "NAME saw OTHER").
import * as lws from 'lws';

const port = Number(process.env.PORT || 3000);
const flag = process.argv.indexOf('--redis');
const redis = flag >= 0 ? process.argv[flag + 1] : process.env.REDIS_URL;
const server = new lws.Server({ port, ...(redis ? { pubsub: { redis } } : {}) });
server.on('redis', (state, err) => console.log(`lws chat: Redis ${state}${err ? ` (${err.message})` : ''}`));
const ROOMS = ['general', 'random', 'lws'];

const page = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lws chat</title>
<style>
  :root { --accent: #3b5bdb; --muted: #868e96; --line: #e9ecef; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #212529; background: #f8f9fa; }
  header { display: flex; align-items: baseline; gap: 1em; padding: .8em 1.2em; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 1.1em; }
  #live { margin-left: auto; color: var(--muted); font-variant-numeric: tabular-nums; }
  main { display: grid; grid-template-columns: 12em 1fr; height: calc(100vh - 3.2em); }
  nav { border-right: 1px solid var(--line); background: #fff; padding: .8em; }
  nav button { display: block; width: 100%; text-align: left; border: 0; background: none; padding: .45em .6em; border-radius: .4em; font: inherit; cursor: pointer; }
  nav button.active { background: var(--accent); color: #fff; }
  section { display: flex; flex-direction: column; min-height: 0; }
  #messages { flex: 1; overflow-y: auto; padding: 1em 1.2em; list-style: none; margin: 0; }
  #messages li { margin: .25em 0; }
  #messages .from { font-weight: 600; margin-right: .4em; }
  #messages .system { color: var(--muted); font-style: italic; }
  form { display: flex; gap: .5em; padding: .8em 1.2em; background: #fff; border-top: 1px solid var(--line); }
  form input { flex: 1; padding: .55em .7em; border: 1px solid #ced4da; border-radius: .4em; font: inherit; }
  form button { padding: .55em 1.1em; border: 0; border-radius: .4em; background: var(--accent); color: #fff; font: inherit; cursor: pointer; }
</style>
<header><h1>lws chat</h1><span id="you"></span><span id="live">connecting…</span></header>
<main>
  <nav id="rooms"></nav>
  <section>
    <ul id="messages"></ul>
    <form id="compose"><input id="text" placeholder="Say something" autocomplete="off" autofocus><button>Send</button></form>
  </section>
</main>
<script>
const params = new URLSearchParams(location.search);
const name = params.get('name') || 'guest-' + Math.floor(Math.random() * 1000);
let room = params.get('room') || 'general';
const acked = new Set();
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/');
const $ = (id) => document.getElementById(id);
$('you').textContent = 'you are ' + name;

function show(from, text) {
  const li = document.createElement('li');
  if (from) {
    const who = document.createElement('span');
    who.className = 'from';
    who.textContent = from;
    li.append(who, text);
  } else {
    li.className = 'system';
    li.textContent = text;
  }
  $('messages').append(li);
  li.scrollIntoView({ block: 'end' });
}

function join(next) {
  room = next;
  $('messages').textContent = '';
  for (const b of $('rooms').children) b.classList.toggle('active', b.dataset.room === room);
  ws.send(JSON.stringify({ type: 'join', room, name }));
}

ws.onopen = () => join(room);
ws.onclose = (e) => { $('live').textContent = 'disconnected (' + e.code + ')'; };
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  if (m.type === 'rooms') {
    $('rooms').textContent = '';
    for (const r of m.rooms) {
      const b = document.createElement('button');
      b.dataset.room = r;
      b.textContent = '# ' + r;
      b.className = r === room ? 'active' : '';
      b.onclick = () => join(r);
      $('rooms').append(b);
    }
  } else if (m.type === 'joined') {
    show(null, 'You joined #' + m.room + ' (' + m.members + ' here)');
    if (params.get('say')) ws.send(JSON.stringify({ type: 'say', text: params.get('say') }));
  } else if (m.type === 'message') {
    show(m.from, m.text);
    if (params.get('ack') && m.from !== name && !acked.has(m.from)) {
      acked.add(m.from);
      ws.send(JSON.stringify({ type: 'say', text: name + ' saw ' + m.from }));
    }
  } else if (m.type === 'stats') {
    $('live').textContent = m.connections + ' connected · ' + m.messagesPerSecond + ' msg/s';
  }
};
$('compose').onsubmit = (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (text) ws.send(JSON.stringify({ type: 'say', text }));
  $('text').value = '';
};
</script>
</html>
`;

server.on('http', (request) => {
  if (request.method === 'GET' && request.url.split('?')[0] === '/') {
    request.respond(200, { 'content-type': 'text/html; charset=utf-8' }, page);
  } else {
    request.respond(404, { 'content-type': 'text/plain' }, 'not found');
  }
});

server.on('connection', (socket) => {
  server.setUserData(socket, { name: 'guest', room: null });
  server.subscribe(socket, 'stats');
  server.send(socket, JSON.stringify({ type: 'rooms', rooms: ROOMS }));
});

server.on('message', (socket, message) => {
  let m;
  try {
    m = JSON.parse(String(message)); // `message` is lent: read here, not kept
  } catch {
    return server.close(socket, 1003, 'JSON expected');
  }
  const user = server.getUserData(socket);
  if (m.type === 'join' && ROOMS.includes(m.room)) {
    if (user.room) server.unsubscribe(socket, `room:${user.room}`);
    user.room = m.room;
    user.name = String(m.name || user.name).slice(0, 32);
    server.subscribe(socket, `room:${user.room}`);
    const members = server.numSubscribers(`room:${user.room}`);
    server.send(socket, JSON.stringify({ type: 'joined', room: user.room, members }));
  } else if (m.type === 'say' && user.room && typeof m.text === 'string') {
    // One publish: the engine sends it to every member of the room.
    const text = m.text.slice(0, 500);
    server.publish(`room:${user.room}`, JSON.stringify({ type: 'message', from: user.name, text, at: Date.now() }));
  }
});

// The live line: connections and messages per second, published to every page once a second.
let lastMessages = 0;
const ticker = setInterval(() => {
  const { connections, messagesIn } = server.stats();
  server.publish('stats', JSON.stringify({ type: 'stats', connections, messagesPerSecond: messagesIn - lastMessages }));
  lastMessages = messagesIn;
}, 1000);
ticker.unref();

server.on('error', (err) => {
  console.error(`lws demo: ${err.message}`);
  process.exit(1);
});

server.on('listening', () => console.log(`lws chat: open http://localhost:${server.port}/ in a few tabs`));

process.on('SIGINT', () => server.close(() => process.exit(0)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

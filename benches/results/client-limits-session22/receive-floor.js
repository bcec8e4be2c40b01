'use strict';
// The least JavaScript a client can spend on one received 16 B message, measured without an
// engine: batches laid out as the engine's (a 16-byte record header, then the payload), and per
// message what any JS client must do here: read the record header, find the connection (a Map),
// make the message's Buffer (a view, no copy), call the application's listener, and the
// benchmark's own check of the message (benches/clients/harness.js recv: size, type, sequence).
// `node receive-floor.js` prints ns per message for the whole (batchViews), the listener and check
// alone with Buffers made beforehand (harnessOnly), and the Buffer views alone (viewsOnly).
const BufferView = Buffer[Symbol.species];
const MESSAGES = 2000;
const RECORD = 32;
const batch = new ArrayBuffer(MESSAGES * RECORD);
const view = new DataView(batch);
for (let i = 0; i < MESSAGES; i++) {
  const pos = i * RECORD;
  view.setUint8(pos, 1);
  view.setUint32(pos + 4, i % 100, true);
  view.setUint32(pos + 8, 16, true);
  // the harness's text sequence number (6 bits a byte): message i of its connection
  const seq = Math.floor(i / 100);
  for (let k = 0; k < 4; k++) view.setUint8(pos + 16 + k, 0x40 | ((seq >> (6 * k)) & 63));
}
const SIZE = 16;
const MASK = 0xffffff;
let total = 0;
const shared = new Int32Array(new SharedArrayBuffer(4));
let errors = 0;
function seqOf(data) {
  return (data[0] & 63) | ((data[1] & 63) << 6) | ((data[2] & 63) << 12) | ((data[3] & 63) << 18);
}
class Conn {
  constructor() { this.next = 0; this.count = 0; }
  onMessage(data, isBinary) {
    if (data.length !== SIZE || isBinary) errors++;
    else if (seqOf(data) !== ((this.next & MASK) >>> 0)) errors++;
    this.next++;
    this.count++;
    shared[0] = ++total;
  }
}
const conns = new Map();
for (let i = 0; i < 100; i++) conns.set(i, new Conn());
/** Each round replays the same batch: the connections' sequence numbers start again. */
const rewind = () => { for (const conn of conns.values()) conn.next = 0; };
/** The batch's messages as Buffers made once, for harnessOnly. */
const premade = [];
for (let pos = 0; pos < MESSAGES * RECORD; pos += RECORD) premade.push(new BufferView(batch, pos + 16, 16));
const listener = (conn, message, binary) => conn.onMessage(message, binary);

function batchViews() {
  for (let pos = 0; pos < MESSAGES * RECORD;) {
    const len = view.getUint32(pos + 8, true);
    const id = view.getUint32(pos + 4, true);
    const flags = view.getUint8(pos + 1);
    listener(conns.get(id), new BufferView(batch, pos + 16, len), (flags & 2) !== 0);
    pos += 16 + len;
  }
}
function harnessOnly() {
  for (let i = 0, pos = 0; pos < MESSAGES * RECORD; i++, pos += RECORD) {
    listener(conns.get(view.getUint32(pos + 4, true)), premade[i], false);
  }
}
function viewsOnly() {
  let bytes = 0;
  for (let pos = 0; pos < MESSAGES * RECORD; pos += RECORD) bytes += new BufferView(batch, pos + 16, 16).length;
  return bytes;
}
const ROUNDS = 5000;
for (const run of [batchViews, harnessOnly, viewsOnly, batchViews, harnessOnly, viewsOnly]) {
  const t = process.hrtime.bigint();
  for (let r = 0; r < ROUNDS; r++) {
    rewind();
    run();
  }
  console.log(`${run.name.padEnd(12)} ${(Number(process.hrtime.bigint() - t) / (ROUNDS * MESSAGES)).toFixed(1)} ns per message`);
}
console.log(`sequence errors: ${errors} (0: every message was checked and right)`);

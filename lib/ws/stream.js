'use strict';
// createWebSocketStream(ws, options): a Duplex over a WebSocket, as in ws.
// Readable side: incoming messages (pause()/resume() give backpressure).
// Writable side: each chunk is one message; end() closes the WebSocket.

const { Duplex } = require('stream');
const { kFinished, kTerminated } = require('./constants');

function emitClose(stream) {
  stream.emit('close');
}

/** Both sides done: the stream is over. */
function duplexOnEnd() {
  if (!this.destroyed && this.writableFinished) this.destroy();
}

/** The first error destroys the stream; it is rethrown if nobody else listens. */
function duplexOnError(err) {
  this.removeListener('error', duplexOnError);
  this.destroy();
  if (this.listenerCount('error') === 0) this.emit('error', err);
}

function createWebSocketStream(ws, options) {
  // After a WebSocket error the engine already closes with the right code;
  // destroying the stream must not cut that close frame off with terminate().
  let terminateOnDestroy = true;

  const duplex = new Duplex({
    ...options,
    autoDestroy: false,
    emitClose: false,
    objectMode: false,
    writableObjectMode: false,
  });

  ws.on('message', (message, isBinary) => {
    const chunk = !isBinary && duplex.readableObjectMode ? message.toString() : message;
    if (!duplex.push(chunk)) ws.pause();
  });

  ws.once('error', (err) => {
    if (duplex.destroyed) return;
    terminateOnDestroy = false;
    duplex.destroy(err);
  });

  ws.once('close', () => {
    if (!duplex.destroyed) duplex.push(null);
  });

  duplex._destroy = (err, callback) => {
    if (ws.readyState === ws.CLOSED) {
      callback(err);
      process.nextTick(emitClose, duplex);
      return;
    }
    let called = false;
    ws.once('error', (wsError) => {
      called = true;
      callback(wsError);
    });
    ws.once('close', () => {
      if (!called) callback(err);
      process.nextTick(emitClose, duplex);
    });
    if (terminateOnDestroy) ws.terminate();
  };

  // ws finishes the writable side when its TCP socket has finished writing: after
  // the close handshake, or a peer that went away; never when the socket was
  // destroyed (terminate(), the close timer), and then neither 'finish' nor 'close' follow.
  duplex._final = (callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => duplex._final(callback));
      return;
    }
    if (ws.readyState === ws.CLOSED) {
      if (ws[kTerminated]) return;
      callback();
      if (duplex.readableEnded) duplex.destroy();
      return;
    }
    // 'end' follows (the WebSocket's 'close' pushes EOF) and destroys the stream.
    ws.once(kFinished, callback);
    ws.close();
  };

  duplex._read = () => {
    if (ws.isPaused) ws.resume();
  };

  duplex._write = (chunk, encoding, callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => duplex._write(chunk, encoding, callback));
      return;
    }
    ws.send(chunk, callback);
  };

  duplex.on('end', duplexOnEnd);
  duplex.on('error', duplexOnError);
  return duplex;
}

module.exports = createWebSocketStream;

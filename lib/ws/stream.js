'use strict';
// createWebSocketStream(ws, options): a Duplex over a WebSocket, as in ws.
// Readable side: incoming messages (pause()/resume() give backpressure).
// Writable side: each chunk is one binary message; end() closes the WebSocket.

const { Duplex } = require('stream');

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

  const finishIfBothEnded = () => {
    if (!duplex.destroyed && duplex.writableFinished && duplex.readableEnded) duplex.destroy();
  };

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

  duplex._final = (callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => duplex._final(callback));
      return;
    }
    if (ws.readyState === ws.CLOSED) {
      callback();
      process.nextTick(finishIfBothEnded);
      return;
    }
    // Our close frame is sent and answered when the WebSocket reports 'close'.
    ws.once('close', () => {
      callback();
      process.nextTick(finishIfBothEnded);
    });
    ws.close();
  };

  duplex._destroy = (err, callback) => {
    const emitStreamClose = () => process.nextTick(() => duplex.emit('close'));
    if (ws.readyState === ws.CLOSED) {
      callback(err);
      emitStreamClose();
      return;
    }
    let answered = false;
    ws.once('error', (wsError) => {
      answered = true;
      callback(wsError);
    });
    ws.once('close', () => {
      if (!answered) callback(err);
      emitStreamClose();
    });
    if (terminateOnDestroy) ws.terminate();
  };

  duplex.on('end', finishIfBothEnded);

  // The first error destroys the stream; it is rethrown if nobody else listens.
  const onFirstError = (err) => {
    duplex.removeListener('error', onFirstError);
    duplex.destroy();
    if (duplex.listenerCount('error') === 0) duplex.emit('error', err);
  };
  duplex.on('error', onFirstError);

  return duplex;
}

module.exports = createWebSocketStream;

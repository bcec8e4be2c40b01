'use strict';
// lws.Server: the node-lws 5 API. The engine, the sockets and every command
// (send, close, ping, pause, handleUpgrade, ...) are the core's (lib/core/);
// this adds node-lws's per-socket accessors.

const { CoreServer, Socket, HttpRequest, UpgradeRequest, idOf } = require('./core');

class Server extends CoreServer {
  get port() {
    const address = this.address();
    return address ? address.port : undefined;
  }

  setUserData(socket, data) {
    idOf(socket);
    socket.userData = data;
  }

  getUserData(socket) {
    idOf(socket);
    return socket.userData;
  }

  getFd(socket) {
    idOf(socket);
    return socket.fd;
  }
}

module.exports = { Server, Socket, HttpRequest, UpgradeRequest };

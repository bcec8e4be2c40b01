import lws from './index.js';

export const { Server, Socket, HttpRequest, UpgradeRequest } = lws;
export default lws;

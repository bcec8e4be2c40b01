import lws from './index.js';

export const { Server, Socket, HttpRequest } = lws;
export default lws;

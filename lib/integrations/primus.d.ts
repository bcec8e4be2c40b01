// The Primus transformer: `new Primus(server, { transformer: require('lws/primus') })`.
declare const LwsPrimusTransformer: new (primus: unknown) => unknown;
export = LwsPrimusTransformer;

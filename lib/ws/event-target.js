'use strict';
// The WHATWG-style surface of a WebSocket (addEventListener, onmessage, ...)
// with the event objects ws hands out: Event, MessageEvent, CloseEvent, ErrorEvent.

const { kClosedCleanly } = require('./constants');

const kHandler = Symbol('lws.ws.handler'); // the user's function behind a wrapper
const kAttribute = Symbol('lws.ws.attribute'); // wrapper installed by an on<event> setter
const kTarget = Symbol('lws.ws.target');

class Event {
  #type;
  constructor(type) {
    this.#type = type;
    this[kTarget] = null;
  }

  get type() {
    return this.#type;
  }

  get target() {
    return this[kTarget];
  }
}

class MessageEvent extends Event {
  #data;
  constructor(type, init = {}) {
    super(type);
    this.#data = init.data === undefined ? null : init.data;
  }

  get data() {
    return this.#data;
  }
}

class CloseEvent extends Event {
  #code;
  #reason;
  #wasClean;
  constructor(type, init = {}) {
    super(type);
    this.#code = init.code === undefined ? 0 : init.code;
    this.#reason = init.reason === undefined ? '' : init.reason;
    this.#wasClean = init.wasClean === undefined ? false : init.wasClean;
  }

  get code() {
    return this.#code;
  }

  get reason() {
    return this.#reason;
  }

  get wasClean() {
    return this.#wasClean;
  }
}

class ErrorEvent extends Event {
  #error;
  #message;
  constructor(type, init = {}) {
    super(type);
    this.#error = init.error === undefined ? null : init.error;
    this.#message = init.message === undefined ? '' : init.message;
  }

  get error() {
    return this.#error;
  }

  get message() {
    return this.#message;
  }
}

for (const [cls, names] of [[Event, ['type', 'target']], [MessageEvent, ['data']], [CloseEvent, ['code', 'reason', 'wasClean']], [ErrorEvent, ['error', 'message']]]) {
  for (const name of names) Object.defineProperty(cls.prototype, name, { enumerable: true });
}

/** Turns an emitter's arguments into the event object a DOM-style listener gets. */
const EVENT_BUILDERS = {
  message: (ws, data, isBinary) => new MessageEvent('message', { data: isBinary ? data : data.toString() }),
  close: (ws, code, reason) => new CloseEvent('close', { code, reason: reason.toString(), wasClean: ws[kClosedCleanly] === true }),
  error: (ws, error) => new ErrorEvent('error', { error, message: error.message }),
  open: () => new Event('open'),
};

function invoke(handler, thisArg, event) {
  if (typeof handler === 'object' && handler !== null && typeof handler.handleEvent === 'function') {
    handler.handleEvent(event);
  } else {
    handler.call(thisArg, event);
  }
}

function addEventListener(type, handler, options = {}) {
  const build = EVENT_BUILDERS[type];
  if (build === undefined || handler == null) return;
  const forAttribute = options[kAttribute] === true;
  if (!forAttribute) {
    // The same listener is added only once, as in the DOM.
    for (const existing of this.listeners(type)) {
      if (existing[kHandler] === handler && !existing[kAttribute]) return;
    }
  }
  const wrapper = function (...args) {
    const event = build(this, ...args);
    event[kTarget] = this;
    invoke(handler, this, event);
  };
  wrapper[kHandler] = handler;
  wrapper[kAttribute] = forAttribute;
  if (options.once) this.once(type, wrapper);
  else this.on(type, wrapper);
}

function removeEventListener(type, handler) {
  for (const listener of this.listeners(type)) {
    if (listener[kHandler] === handler && !listener[kAttribute]) {
      this.removeListener(type, listener);
      return;
    }
  }
}

/** Adds addEventListener/removeEventListener and the onopen/onmessage/onclose/onerror attributes. */
function defineEventTarget(proto) {
  proto.addEventListener = addEventListener;
  proto.removeEventListener = removeEventListener;
  for (const type of ['open', 'error', 'close', 'message']) {
    Object.defineProperty(proto, `on${type}`, {
      enumerable: true,
      configurable: true,
      get() {
        for (const listener of this.listeners(type)) {
          if (listener[kAttribute]) return listener[kHandler];
        }
        return null;
      },
      set(handler) {
        for (const listener of this.listeners(type)) {
          if (listener[kAttribute]) {
            this.removeListener(type, listener);
            break;
          }
        }
        if (typeof handler === 'function') addEventListener.call(this, type, handler, { [kAttribute]: true });
      },
    });
  }
}

module.exports = { Event, MessageEvent, CloseEvent, ErrorEvent, defineEventTarget };

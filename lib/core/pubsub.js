'use strict';
// Pub/sub topics, CoreServer's methods for them (installed on its prototype):
// the engine's workers hold the subscriptions and fan a publish out; JS keeps a
// mirror (server._topics: topic key -> its number of local subscribers; a socket's
// extras.topics) for the synchronous queries and to tell the engine's Redis link which
// topics this process wants (pubsub.redis). The mirror is small on purpose: it is kept per
// subscriber, and V8 walks all of it at every full collection.

const { Command, FLAG_BINARY, STASH_MIN } = require('./wire');
const { idOf, kExtras, extrasOf, topicsOf } = require('./socket');
const { toBytes, isOwnOpenSocket } = require('./arguments');

/** An all-ASCII string (made once: a regex literal in a function is a new object per call). */
const ASCII = /^[\x00-\x7f]*$/;

/**
 * A topic as the engine knows it: its bytes, held as a latin1 string (one
 * char a byte) so that a string topic and its UTF-8 bytes are the same topic.
 */
function topicKey(topic) {
  if (typeof topic === 'string') {
    // ASCII (the usual case) is its own latin1 form: no conversion.
    return ASCII.test(topic) ? topic : Buffer.from(topic, 'utf8').toString('latin1');
  }
  const bytes = toBytes(topic);
  if (bytes === null) throw new TypeError('A topic is a string, a Buffer, a TypedArray or an ArrayBuffer');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** A large publish's payload head: the socket id to skip, the topic's length and bytes. */
function publishHead(skip, key) {
  const head = Buffer.allocUnsafe(6 + key.length);
  head.writeUInt32LE(skip, 0);
  head.writeUInt16LE(key.length, 4);
  head.latin1Write(key, 6);
  return head;
}

/**
 * A socket's topics (extras.topics): null, one key (a string: a socket usually has one
 * topic, and a Set would cost ~140 bytes more per subscriber), or a Set of keys.
 */
function hasTopic(topics, key) {
  if (topics === null) return false;
  return typeof topics === 'string' ? topics === key : topics.has(key);
}

function withTopic(topics, key) {
  if (topics === null) return key;
  return typeof topics === 'string' ? new Set([topics, key]) : topics.add(key);
}

/** `topics` without `key` (known to be among them); one topic left is a string again. */
function withoutTopic(topics, key) {
  if (typeof topics === 'string') return null;
  topics.delete(key);
  return topics.size === 1 ? topics.values().next().value : topics;
}

function topicName(key) {
  return ASCII.test(key) ? key : Buffer.from(key, 'latin1').toString('utf8');
}

class PubSub {
  /**
   * Subscribes a socket to a topic (a string or bytes). The engine fans a
   * publish out to every subscriber itself, on every engine thread; JS keeps
   * a mirror for the queries below. A socket's subscriptions end with it.
   * Returns false if it was subscribed already (or is closed).
   */
  subscribe(socket, topic) {
    const id = idOf(socket);
    const key = topicKey(topic);
    if (!isOwnOpenSocket(this, socket)) return false;
    const extras = extrasOf(socket);
    if (hasTopic(extras.topics, key)) return false;
    extras.topics = withTopic(extras.topics, key);
    const count = this._topics.get(key);
    if (count === undefined) {
      this._topics.set(key, 1);
      // The first local subscriber: this process now wants the topic's messages from other processes.
      if (this.options.pubsub) this._commands.bytes(Command.REDIS_SUBSCRIBE, 0, 0, 0, Buffer.from(key, 'latin1'));
    } else {
      this._topics.set(key, count + 1);
    }
    this._commands.bytes(Command.SUBSCRIBE, 0, 0, id, Buffer.from(key, 'latin1'));
    this._engine.schedule();
    return true;
  }

  /** Ends a subscription; false if there was none. */
  unsubscribe(socket, topic) {
    const id = idOf(socket);
    const key = topicKey(topic);
    if (!isOwnOpenSocket(this, socket)) return false;
    const topics = topicsOf(socket);
    if (!hasTopic(topics, key)) return false;
    socket[kExtras].topics = withoutTopic(topics, key);
    this._forgetSubscriber(key);
    this._commands.bytes(Command.UNSUBSCRIBE, 0, 0, id, Buffer.from(key, 'latin1'));
    this._engine.schedule();
    return true;
  }

  isSubscribed(socket, topic) {
    idOf(socket);
    return hasTopic(topicsOf(socket), topicKey(topic));
  }

  /** The socket's topics (as strings, UTF-8). */
  getTopics(socket) {
    idOf(socket);
    const topics = topicsOf(socket);
    if (topics === null) return [];
    return typeof topics === 'string' ? [topicName(topics)] : [...topics].map(topicName);
  }

  numSubscribers(topic) {
    return this._topics.get(topicKey(topic)) ?? 0;
  }

  /**
   * Sends `data` to every subscriber of `topic`: one command, whatever their
   * number; each engine thread frames it for its own subscribers, in order with
   * their own sends. `options.skip`: a socket not to send it to (the sender).
   * Returns false when the topic has no subscribers (nothing sent).
   */
  publish(topic, data, binary = false, options = undefined) {
    const key = topicKey(topic);
    const count = this._topics.get(key);
    // With Redis, other processes may have subscribers: the engine forwards it there.
    if (count === undefined && !this.options.pubsub) return false;
    const skip = options && options.skip ? idOf(options.skip) : 0;
    const message = typeof data === 'string' ? data : toBytes(data);
    if (message === null) throw new TypeError('publish() takes a Buffer, TypedArray, ArrayBuffer, DataView or string');
    if (key.length > 0xffff) throw new RangeError('A topic must be at most 65535 bytes');
    const flags = binary ? FLAG_BINARY : 0;
    const size = typeof message === 'string' ? Buffer.byteLength(message) : message.length;
    // Small messages are copied into the command buffer as they are; a large one goes as one
    // payload that the engine takes by reference (stashed).
    if (size < STASH_MIN) this._commands.publish(flags, skip, key, message, size);
    else this._commands.bytes(Command.PUBLISH, flags, 0, 0, Buffer.concat([publishHead(skip, key), typeof message === 'string' ? Buffer.from(message) : message]));
    const deliveries = count === undefined ? 0 : count - (skip !== 0 && hasTopic(topicsOf(options.skip), key) ? 1 : 0);
    this._counters.messagesOut += deliveries;
    this._counters.bytesOut += deliveries * size;
    this._engine.schedule();
    return true;
  }

  /** One local subscriber of `key` fewer. */
  _forgetSubscriber(key) {
    const count = this._topics.get(key);
    if (count === undefined) return;
    if (count > 1) {
      this._topics.set(key, count - 1);
      return;
    }
    this._topics.delete(key);
    if (this.options.pubsub) this._commands.bytes(Command.REDIS_UNSUBSCRIBE, 0, 0, 0, Buffer.from(key, 'latin1'));
  }

  /** A socket is gone: its subscriptions end (the engine's end with it by themselves). */
  _forgetSubscriptions(socket) {
    const topics = topicsOf(socket);
    if (topics === null) return;
    socket[kExtras].topics = null;
    if (typeof topics === 'string') this._forgetSubscriber(topics);
    else for (const key of topics) this._forgetSubscriber(key);
  }
}

module.exports = { PubSub };

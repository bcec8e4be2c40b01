'use strict';
// Pub/sub topics, CoreServer's methods for them (installed on its prototype):
// the engine's workers hold the subscriptions and fan a publish out; JS keeps a
// mirror (server._topics: topic key -> Set of Sockets, a socket's extras.topics) for the
// synchronous queries and to tell the engine's Redis link which topics this
// process wants (pubsub.redis).

const { Command, FLAG_BINARY, STASH_MIN } = require('./wire');
const { idOf, kExtras, extrasOf, topicsOf } = require('./socket');
const { toBytes, isOwnOpenSocket } = require('./arguments');

/**
 * A topic as the engine knows it: its bytes, held as a latin1 string (one
 * char a byte) so that a string topic and its UTF-8 bytes are the same topic.
 */
function topicKey(topic) {
  if (typeof topic === 'string') {
    // ASCII (the usual case) is its own latin1 form: no conversion.
    return /^[\x00-\x7f]*$/.test(topic) ? topic : Buffer.from(topic, 'utf8').toString('latin1');
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

function topicName(key) {
  return /^[\x00-\x7f]*$/.test(key) ? key : Buffer.from(key, 'latin1').toString('utf8');
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
    const topics = extras.topics || (extras.topics = new Set());
    if (topics.has(key)) return false;
    topics.add(key);
    let subscribers = this._topics.get(key);
    if (subscribers === undefined) {
      this._topics.set(key, (subscribers = new Set()));
      // The first local subscriber: this process now wants the topic's messages from other processes.
      if (this.options.pubsub) this._commands.bytes(Command.REDIS_SUBSCRIBE, 0, 0, 0, Buffer.from(key, 'latin1'));
    }
    subscribers.add(socket);
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
    if (topics === null || !topics.delete(key)) return false;
    this._forgetSubscriber(key, socket);
    this._commands.bytes(Command.UNSUBSCRIBE, 0, 0, id, Buffer.from(key, 'latin1'));
    this._engine.schedule();
    return true;
  }

  isSubscribed(socket, topic) {
    idOf(socket);
    const topics = topicsOf(socket);
    return topics !== null && topics.has(topicKey(topic));
  }

  /** The socket's topics (as strings, UTF-8). */
  getTopics(socket) {
    idOf(socket);
    const topics = topicsOf(socket);
    return topics === null ? [] : [...topics].map(topicName);
  }

  numSubscribers(topic) {
    const subscribers = this._topics.get(topicKey(topic));
    return subscribers === undefined ? 0 : subscribers.size;
  }

  /**
   * Sends `data` to every subscriber of `topic`: one command, whatever their
   * number; each engine thread frames it for its own subscribers, in order with
   * their own sends. `options.skip`: a socket not to send it to (the sender).
   * Returns false when the topic has no subscribers (nothing sent).
   */
  publish(topic, data, binary = false, options = undefined) {
    const key = topicKey(topic);
    const subscribers = this._topics.get(key);
    // With Redis, other processes may have subscribers: the engine forwards it there.
    if (subscribers === undefined && !this.options.pubsub) return false;
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
    const deliveries = subscribers === undefined ? 0 : subscribers.size - (skip !== 0 && topicsOf(options.skip) !== null && topicsOf(options.skip).has(key) ? 1 : 0);
    this._counters.messagesOut += deliveries;
    this._counters.bytesOut += deliveries * size;
    this._engine.schedule();
    return true;
  }

  _forgetSubscriber(key, socket) {
    const subscribers = this._topics.get(key);
    if (subscribers === undefined) return;
    subscribers.delete(socket);
    if (subscribers.size === 0) {
      this._topics.delete(key);
      if (this.options.pubsub) this._commands.bytes(Command.REDIS_UNSUBSCRIBE, 0, 0, 0, Buffer.from(key, 'latin1'));
    }
  }

  /** A socket is gone: its subscriptions end (the engine's end with it by themselves). */
  _forgetSubscriptions(socket) {
    const topics = topicsOf(socket);
    if (topics === null) return;
    socket[kExtras].topics = null;
    for (const key of topics) this._forgetSubscriber(key, socket);
  }
}

module.exports = { PubSub };

'use strict';
// One openvidu-browser client (the real, unmodified package) that joins with
// session.connect(token, metadata) and records every session event it sees.

const { alerts, routeWebSocket, socketStats } = require('./browser-shim');
const { withTimeout, waitUntil } = require('./wait');

// openvidu-browser logs through console.* (its logger captures the methods when first loaded; its
// JSON-RPC layer calls console.* directly) and prints warnings and errors even in prod mode. Every
// console line of this test process goes to a bounded buffer (printed only with OTC_COMPAT_DEBUG):
// failure messages quote it, and the harness scans it for protocol trouble the library only logs.
const libraryLog = [];
let libraryLogCount = 0;
const LIBRARY_LOG_LIMIT = 5000;
const CONSOLE_METHODS = ['log', 'info', 'debug', 'warn', 'error'];
const savedConsole = Object.fromEntries(CONSOLE_METHODS.map((name) => [name, console[name]]));
for (const name of CONSOLE_METHODS) {
  console[name] = (...args) => {
    if (process.env.OTC_COMPAT_DEBUG) savedConsole[name].apply(console, args);
    libraryLog.push(`[${name}] ${args.map(formatLogArgument).join(' ')}`);
    libraryLogCount += 1;
    if (libraryLog.length > LIBRARY_LOG_LIMIT) libraryLog.shift();
  };
}
const OpenViduBrowser = require('openvidu-browser');

function formatLogArgument(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** The last lines logged (all clients of this process), for failure messages. */
function recentLibraryLog(lines = 15) {
  return libraryLog.slice(-lines).join('\n');
}

/** A position in the log, for libraryLogSince(). */
function libraryLogMark() {
  return libraryLogCount;
}

/** The log lines written since `mark` (as far as the buffer still holds them). */
function libraryLogSince(mark) {
  const count = Math.min(libraryLogCount - mark, libraryLog.length);
  return count > 0 ? libraryLog.slice(-count) : [];
}

const RECORDED_EVENTS = [
  'connectionCreated',
  'connectionDestroyed',
  'sessionDisconnected',
  'reconnecting',
  'reconnected',
  'signal',
  'streamCreated',
  'streamDestroyed',
  'exception',
  'connectionPropertyChanged',
];

const CONNECT_TIMEOUT_MS = 15000;
const DEFAULT_WAIT_MS = 15000;
const CLOSE_WAIT_MS = 12000;
const WS_CLOSED = 3;

/** A plain, comparable summary of a recorded session event. */
function summarize(type, event) {
  const summary = { type };
  if (event == null) return summary;
  if (event.connection) summary.connectionId = event.connection.connectionId;
  if (event.connection && event.connection.data !== undefined) summary.data = event.connection.data;
  if (event.reason !== undefined) summary.reason = event.reason;
  if (type === 'signal') {
    summary.signalType = event.type;
    summary.signalData = event.data;
    summary.from = event.from ? event.from.connectionId : undefined;
  }
  if (type === 'connectionPropertyChanged') {
    summary.changedProperty = event.changedProperty;
    summary.newValue = event.newValue;
    summary.oldValue = event.oldValue;
  }
  if (type === 'exception') {
    summary.name = event.name;
    summary.message = event.message;
  }
  return summary;
}

class BrowserClient {
  /**
   * name: label for messages and for the proxy; proxy: optional CutProxy whose label is set
   * to `name` while this client dials.
   */
  constructor(name, proxy) {
    this.name = name;
    this.proxy = proxy;
    this.openvidu = new OpenViduBrowser.OpenVidu();
    this.openvidu.enableProdMode();
    this.session = this.openvidu.initSession();
    this.events = [];
    this.waiters = new Set();
    for (const type of RECORDED_EVENTS) {
      this.session.on(type, (event) => this.#record(type, event));
    }
  }

  #record(type, event) {
    const entry = { ...summarize(type, event), raw: event, at: Date.now() };
    this.events.push(entry);
    for (const waiter of [...this.waiters]) {
      if (waiter.type === type && waiter.predicate(entry)) {
        this.waiters.delete(waiter);
        waiter.resolve(entry);
      }
    }
  }

  /** Connects with the token; rejects on a join error or after CONNECT_TIMEOUT_MS. */
  async connect(token, metadata) {
    if (this.proxy) this.proxy.setLabel(this.name);
    await withTimeout(this.session.connect(token, metadata), CONNECT_TIMEOUT_MS, `${this.name}: session.connect`);
    return this.session.connection;
  }

  /** This client's own connection id (after connect). */
  get connectionId() {
    return this.session.connection ? this.session.connection.connectionId : undefined;
  }

  /** Recorded events of one type (summaries, oldest first). */
  eventsOf(type) {
    return this.events.filter((entry) => entry.type === type);
  }

  /**
   * Resolves with the first recorded event of `type` matching `predicate` (already seen or still
   * to come); rejects after timeoutMs with everything this client saw.
   */
  waitFor(type, predicate = () => true, timeoutMs = DEFAULT_WAIT_MS) {
    const seen = this.events.find((entry) => entry.type === type && predicate(entry));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { type, predicate };
      waiter.timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `${this.name}: no matching '${type}' event within ${timeoutMs} ms; saw ${this.describeEvents()}\n` +
              `recent openvidu-browser log:\n${recentLibraryLog()}`,
          ),
        );
      }, timeoutMs);
      waiter.resolve = (entry) => {
        clearTimeout(waiter.timer);
        resolve(entry);
      };
      this.waiters.add(waiter);
    });
  }

  /** The recorded events, without raw objects, for failure messages. */
  describeEvents() {
    return JSON.stringify(this.events.map(({ raw, at, ...rest }) => rest));
  }

  /** The library's WebSocket readyState (3 = CLOSED), or CLOSED if it never opened one. */
  socketState() {
    try {
      return this.openvidu.getWsReadyState();
    } catch {
      return WS_CLOSED;
    }
  }

  /**
   * Leaves (leaveRoom) if still joined, else closes the socket, then waits until the socket is
   * CLOSED (closing handshake done). Idempotent. Call before stopping the proxy or the server: a
   * socket cut mid-handshake makes the library redial forever (see harness.js).
   */
  async close() {
    for (const waiter of this.waiters) clearTimeout(waiter.timer);
    this.waiters.clear();
    // The library never marks its own connection disposed: after a sessionDisconnected (or with
    // the socket already closed) a disconnect() would only queue a leaveRoom that times out.
    const connection = this.session.connection;
    const stillJoined = connection && this.eventsOf('sessionDisconnected').length === 0 && this.socketState() !== WS_CLOSED;
    if (stillJoined) {
      this.session.disconnect();
    } else {
      try {
        this.openvidu.closeWs();
      } catch {
        // never dialed: nothing to close
      }
    }
    try {
      await waitUntil(() => this.socketState() === WS_CLOSED, CLOSE_WAIT_MS, `${this.name}: socket closed`);
    } catch {
      // left to the teardown: the proxy/server shutdown cuts it (and harness.js reports a redial loop)
    }
  }
}

module.exports = { BrowserClient, OpenViduBrowser, alerts, routeWebSocket, socketStats, libraryLogMark, libraryLogSince };

'use strict';
// The few browser globals openvidu-browser touches on the signaling-only path
// (session.connect / signal / forceDisconnect / disconnect, never publish).
// Must be required before 'openvidu-browser'. WebSocket itself comes from
// Node 20's built-in client (run node with --experimental-websocket).

if (typeof globalThis.WebSocket !== 'function') {
  throw new Error('global WebSocket missing: run node with --experimental-websocket (Node 20)');
}

// Client-side routing of WebSocket dials, like a NAT rule: a dial to ws://127.0.0.1:A is sent to
// ws://127.0.0.1:B instead, so a test can put its cut proxy between the unmodified library and the
// server while the token string (which the server matches exactly) stays as the server issued it.
const NativeWebSocket = globalThis.WebSocket;
const routes = new Map();

/** Dials to `fromPort` on 127.0.0.1 go to `toPort` from now on (null removes the route). */
function routeWebSocket(fromPort, toPort) {
  if (toPort == null) routes.delete(String(fromPort));
  else routes.set(String(fromPort), String(toPort));
}

/**
 * Counts over every WebSocket the library opened in this process: dials, 'error' events and
 * closes without a closing handshake. openvidu-browser treats an 'error' on its current socket as
 * a failed redial and schedules another one even after the app closed the session
 * (webSocketWithReconnection.js reconnectAux), so a server that drops a socket without a clean
 * close makes real clients redial forever.
 */
const socketStats = { dials: 0, errors: 0, uncleanCloses: 0 };

class RoutedWebSocket extends NativeWebSocket {
  constructor(url, protocols) {
    const target = new URL(url);
    if (target.hostname === '127.0.0.1' && routes.has(target.port)) target.port = routes.get(target.port);
    super(target.toString(), protocols);
    socketStats.dials += 1;
    const serial = socketStats.dials;
    const trace = (what) => {
      if (process.env.OTC_COMPAT_DEBUG) process.stderr.write(`[ws #${serial} ${target}] ${what}\n`);
    };
    trace('dial');
    this.addEventListener('open', () => trace('open'));
    this.addEventListener('error', (event) => {
      if (this.failed) {
        // Browser semantics: one 'error' per socket. Node 20's client fires a second one when
        // close() is called on a socket whose handshake already failed; the library would take
        // it for another failed redial and start a second, never-ending redial chain.
        event.stopImmediatePropagation();
        trace(`duplicate error suppressed: ${event.message}`);
        return;
      }
      this.failed = true;
      socketStats.errors += 1;
      trace(`error ${event.message}`);
    });
    this.addEventListener('close', (event) => {
      if (!event.wasClean) socketStats.uncleanCloses += 1;
      trace(`close code=${event.code} clean=${event.wasClean}`);
    });
  }

  /**
   * Browser semantics: every WebSocket event is its own task, so the promise jobs one message
   * handler queues run before the next message is handled. Node 20's client dispatches all frames
   * of one read in a single task; openvidu-browser handles a signal with `from` one promise later
   * than one without (Session.onNewMessage), which would reorder them. Deliver each event from its
   * own macrotask, in arrival order.
   */
  dispatchEvent(event) {
    setImmediate(() => super.dispatchEvent(event));
    return true;
  }

  /** Browser semantics: closing a socket whose connection already failed does nothing. */
  close(code, reason) {
    if (this.failed && this.readyState !== NativeWebSocket.OPEN) return;
    super.close(code, reason);
  }
}
globalThis.WebSocket = RoutedWebSocket;

/** Messages passed to window.alert(); the library alerts on a few fatal paths. */
const alerts = [];

if (typeof globalThis.window === 'undefined') {
  globalThis.window = globalThis;
}
if (typeof globalThis.addEventListener !== 'function') {
  // Screen-Capturing.js registers a 'message' listener at load time.
  globalThis.addEventListener = () => {};
  globalThis.removeEventListener = () => {};
}
if (typeof globalThis.navigator === 'undefined') {
  // Platform.isIPhoneOrIPad() reads navigator.userAgent / navigator.vendor.
  globalThis.navigator = { userAgent: 'Node.js', vendor: '', platform: 'Linux' };
}
if (typeof globalThis.document === 'undefined') {
  globalThis.document = {
    getElementById: () => null,
    querySelector: () => null,
    addEventListener: () => {},
    removeEventListener: () => {},
  };
}
globalThis.alert = (message) => {
  alerts.push(String(message));
};

module.exports = { alerts, routeWebSocket, socketStats };

'use strict';
// One test stack: an otc-server process, the real openvidu-node-client pointed at it, an optional
// cut proxy in front of it for the browser clients, and the browser clients the test joined.
// stop() tears everything down in the order that lets every client close cleanly.

// openvidu-node-client is a Node package: load it (and axios) before the browser shim defines
// window/document, which would make axios think it runs in a browser. Its logger captures
// console.* when first loaded; keep its chatter quiet.
const savedLog = console.log;
if (!process.env.OTC_COMPAT_DEBUG) console.log = () => {};
const OpenViduNode = require('openvidu-node-client');
console.log = savedLog;

const { BrowserClient, alerts, routeWebSocket, libraryLogMark, libraryLogSince } = require('./browser');
const { protocolTrouble, armRedialLoopGuard } = require('./checks');
const { CutProxy } = require('./proxy');
const { startServer } = require('./server');

class Stack {
  constructor(server, proxy) {
    this.server = server;
    this.proxy = proxy;
    this.node = new OpenViduNode.OpenVidu(server.httpUrl, server.secret);
    this.clients = [];
    this.extraServers = [];
    this.logMark = libraryLogMark();
  }

  /** A new, not yet connected browser client (closed by stop()). */
  browser(name) {
    const client = new BrowserClient(name, this.proxy);
    this.clients.push(client);
    return client;
  }

  /** Creates a session with the node client (properties as SessionProperties). */
  createSession(properties) {
    return this.node.createSession(properties);
  }

  /**
   * Creates a connection in `session` with the node client and joins it with a new browser
   * client; resolves with { client, connection } (connection = node client's Connection).
   */
  async join(session, name, { role, data, metadata } = {}) {
    const connection = await session.createConnection({ role, data });
    const client = this.browser(name);
    await client.connect(connection.token, metadata);
    return { client, connection };
  }

  /** Raw REST call with the server's Basic auth (for calls the node client has no method for). */
  async rest(method, path, body, { secret = this.server.secret, baseUrl = this.server.httpUrl } = {}) {
    const headers = { Authorization: 'Basic ' + Buffer.from('OPENVIDUAPP:' + secret).toString('base64') };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(baseUrl + '/openvidu/api' + path, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, text, json };
  }

  /**
   * Starts a second server (same secret and timers) and points the proxy at it: the clients'
   * next dials land on a server that never saw them (a restarted server).
   */
  async restartBehindProxy(options) {
    const replacement = await startServer({ ...options, secret: this.server.secret });
    this.extraServers.push(replacement);
    this.proxy.setUpstreamPort(replacement.port);
    return replacement;
  }

  /**
   * Closes every client, then the proxy, then the servers. Fails if openvidu-browser logged protocol
   * trouble while the tests ran (teardown itself is not scanned: clients leaving at the same time
   * legitimately see participantLeft for peers they already dropped) or called window.alert.
   */
  async stop() {
    const testLog = libraryLogSince(this.logMark);
    await Promise.all(this.clients.map((client) => client.close()));
    if (this.proxy) {
      routeWebSocket(this.server.port, null);
      await this.proxy.close();
    }
    await Promise.all([this.server, ...this.extraServers].map((server) => server.stop()));
    runningStacks -= 1;
    if (runningStacks === 0) armRedialLoopGuard(() => runningStacks > 0);
    const trouble = protocolTrouble(testLog);
    if (trouble.length > 0) {
      throw new Error(`openvidu-browser logged protocol trouble while the tests ran:\n${trouble.join('\n')}`);
    }
    if (alerts.length > 0) {
      // openvidu-browser alerts only when a socket event finds no Session (OpenVidu.ts reconnect callbacks).
      throw new Error(`openvidu-browser called window.alert: ${JSON.stringify(alerts.splice(0))}`);
    }
  }
}

let runningStacks = 0;

/**
 * Starts a stack. options: { resumeGraceMs, withProxy, extraArgs } (server options as in
 * server.js). With withProxy, browser WebSocket dials to the server go through a CutProxy.
 */
async function startStack(options = {}) {
  const server = await startServer(options);
  let proxy;
  if (options.withProxy) {
    proxy = new CutProxy(server.port);
    await proxy.listen();
    routeWebSocket(server.port, proxy.port);
  }
  runningStacks += 1;
  return new Stack(server, proxy);
}

module.exports = { startStack, OpenViduNode };

'use strict';
// A TCP proxy on 127.0.0.1:0 in front of the server, to cut client sockets on demand:
//  - blackhole(label): that client's open connections stay open but nothing is forwarded (a dead path);
//  - destroy(label): that client's open connections are reset on both sides (a loss both ends notice);
//  - refuseRedials(true): redials are reset at once (the client's network is still down), first dials pass;
//  - setUpstreamPort(p): later connections go to another server (a restarted server).
// Every accepted connection is tagged with the label current at accept time (setLabel), so a test
// that joins its clients one after the other can cut one client and leave the others alone.

const net = require('node:net');

const REDIAL_REQUEST = /^GET \S*[?&]reconnect=true/;

class CutProxy {
  constructor(upstreamPort) {
    this.upstreamPort = upstreamPort;
    this.refusing = false;
    this.label = 'default';
    this.pairs = new Set();
    this.sockets = new Set();
    this.acceptedByLabel = new Map();
    this.refusedByLabel = new Map();
    this.server = net.createServer((client) => this.#accept(client));
  }

  /** Starts listening; resolves with the proxy's port. */
  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.port = this.server.address().port;
        resolve(this.port);
      });
    });
  }

  /** Connections accepted from now on carry this label. */
  setLabel(label) {
    this.label = label;
  }

  /** How many connections were accepted (forwarded or refused) under this label. */
  acceptedCount(label) {
    return this.acceptedByLabel.get(label) ?? 0;
  }

  #track(socket) {
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  }

  #accept(client) {
    const label = this.label;
    this.acceptedByLabel.set(label, this.acceptedCount(label) + 1);
    this.#track(client);
    // The first bytes are the client's HTTP upgrade request: openvidu-browser's redials carry
    // `reconnect=true` in the URL, first dials do not.
    client.once('data', (head) => {
      if (this.refusing && REDIAL_REQUEST.test(head.toString('latin1').split('\r\n', 1)[0])) {
        this.refusedByLabel.set(label, (this.refusedByLabel.get(label) ?? 0) + 1);
        client.resetAndDestroy();
        return;
      }
      this.#forward(label, client, head);
    });
  }

  #forward(label, client, head) {
    const upstream = net.connect(this.upstreamPort, '127.0.0.1');
    this.#track(upstream);
    upstream.write(head);
    const pair = { label, client, upstream, blackholed: false };
    this.pairs.add(pair);
    const forward = (from, to) => {
      from.on('data', (chunk) => {
        if (!pair.blackholed && !to.destroyed) to.write(chunk);
      });
      from.on('end', () => {
        if (!pair.blackholed && !to.destroyed) to.end();
      });
      // A clean close is passed on as a half-close (pending bytes such as a WebSocket close
      // frame still reach the other side); a reset is passed on as a reset.
      from.on('close', (hadError) => {
        this.pairs.delete(pair);
        if (pair.blackholed || to.destroyed) return;
        if (hadError) to.resetAndDestroy();
        else to.end();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  }

  #pairsOf(label) {
    return [...this.pairs].filter((pair) => pair.label === label);
  }

  /** Number of forwarding connections open under this label. */
  openCount(label) {
    return this.#pairsOf(label).filter((pair) => !pair.blackholed).length;
  }

  /** Stops forwarding on every open connection of `label` without closing it. */
  blackhole(label) {
    const pairs = this.#pairsOf(label);
    for (const pair of pairs) pair.blackholed = true;
    return pairs.length;
  }

  /** Resets every open connection of `label` on both sides. */
  destroy(label) {
    const pairs = this.#pairsOf(label);
    for (const pair of pairs) {
      pair.blackholed = true;
      this.pairs.delete(pair);
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
    return pairs.length;
  }

  /** While true, redials (upgrade requests with reconnect=true) are reset as soon as they arrive; first dials pass. */
  refuseRedials(refusing) {
    this.refusing = refusing;
  }

  /** How many redials were refused under this label. */
  refusedCount(label) {
    return this.refusedByLabel.get(label) ?? 0;
  }

  /** Connections accepted from now on go to this server port. */
  setUpstreamPort(port) {
    this.upstreamPort = port;
  }

  /** Closes the listener and every socket it ever opened that is still open. */
  async close() {
    for (const socket of [...this.sockets]) socket.destroy();
    this.pairs.clear();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}

module.exports = { CutProxy };

'use strict';
// A resume the server refuses: the cut outlasted the grace period, or the server was restarted
// and never knew the client. openvidu-browser then reports sessionDisconnected "networkDisconnect"
// (it sends `connect`, gets an error, gives up). Spec: wire-protocol.md 5, 6 (40007).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/harness');
const { waitUntil } = require('../lib/wait');

const RESUME_GRACE_MS = 2000;
const DETECT_TIMEOUT_MS = 20000;
// Eviction after the grace period, as seen by the others.
const EVICTION_TIMEOUT_MS = RESUME_GRACE_MS + 10000;
// The client redials every 3 s; give it a few tries once the network is back.
const GIVE_UP_TIMEOUT_MS = 20000;

/** The order of the resume-related events a client saw. */
function lifecycle(client) {
  return client.events
    .filter((e) => ['reconnecting', 'reconnected', 'sessionDisconnected'].includes(e.type))
    .map((e) => (e.reason ? `${e.type}:${e.reason}` : e.type));
}

describe('refused resume: cut longer than the grace period', () => {
  let stack;
  before(async () => {
    stack = await startStack({ withProxy: true, resumeGraceMs: RESUME_GRACE_MS });
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  it('others see connectionDestroyed "networkDisconnect"; the client, back online, gets sessionDisconnected "networkDisconnect"', async () => {
    const session = await stack.createSession();
    const alice = await stack.join(session, 'alice', { data: 'alice' });
    const bob = await stack.join(session, 'bob', { data: 'bob' });
    await alice.client.waitFor('connectionCreated', (e) => e.connectionId === bob.connection.connectionId);

    stack.proxy.setLabel('bob');
    stack.proxy.refuseRedials(true);
    assert.equal(stack.proxy.destroy('bob'), 1, 'bob had one socket through the proxy');
    await bob.client.waitFor('reconnecting', undefined, DETECT_TIMEOUT_MS);

    const destroyed = await alice.client.waitFor(
      'connectionDestroyed',
      (e) => e.connectionId === bob.connection.connectionId,
      EVICTION_TIMEOUT_MS,
    );
    assert.equal(destroyed.reason, 'networkDisconnect');
    await waitUntil(async () => {
      await session.fetch();
      return session.activeConnections.length === 1;
    }, 10000, 'REST drops the evicted connection');
    assert.equal(session.activeConnections[0].connectionId, alice.connection.connectionId);

    assert.ok(stack.proxy.refusedCount('bob') >= 1, 'bob tried to redial while cut off');
    const dialsWhileCut = stack.proxy.acceptedCount('bob');
    stack.proxy.refuseRedials(false);
    const disconnected = await bob.client.waitFor('sessionDisconnected', undefined, GIVE_UP_TIMEOUT_MS);
    assert.equal(disconnected.reason, 'networkDisconnect');
    assert.ok(stack.proxy.acceptedCount('bob') > dialsWhileCut, 'bob got through once the network was back');
    assert.deepEqual(lifecycle(bob.client), ['reconnecting', 'sessionDisconnected:networkDisconnect']);
    assert.equal(alice.client.eventsOf('sessionDisconnected').length, 0, 'alice stays');
    await waitUntil(() => bob.client.socketState() === 3, 10000, 'bob closed his socket after giving up');
  });
});

describe('refused resume: a silent client is detected by the ping watchdog', () => {
  // The browser pings every 5 s; the server closes a socket after 3 intervals without a ping.
  const WATCHDOG_MS = 15000;
  let stack;
  before(async () => {
    stack = await startStack({ withProxy: true, resumeGraceMs: RESUME_GRACE_MS });
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  it('a blackholed client that never gets back is evicted with "networkDisconnect" after watchdog + grace', async () => {
    const session = await stack.createSession();
    const alice = await stack.join(session, 'alice-silent', { data: 'alice' });
    const bob = await stack.join(session, 'bob-silent', { data: 'bob' });
    await alice.client.waitFor('connectionCreated', (e) => e.connectionId === bob.connection.connectionId);

    stack.proxy.setLabel(bob.client.name);
    stack.proxy.refuseRedials(true);
    assert.equal(stack.proxy.blackhole(bob.client.name), 1, 'bob had one socket through the proxy');
    const destroyed = await alice.client.waitFor(
      'connectionDestroyed',
      (e) => e.connectionId === bob.connection.connectionId,
      WATCHDOG_MS + RESUME_GRACE_MS + 10000,
    );
    assert.equal(destroyed.reason, 'networkDisconnect');
    assert.ok(bob.client.eventsOf('reconnecting').length === 1, 'bob noticed the dead socket (failed ping) meanwhile');

    stack.proxy.refuseRedials(false);
    const disconnected = await bob.client.waitFor('sessionDisconnected', undefined, GIVE_UP_TIMEOUT_MS);
    assert.equal(disconnected.reason, 'networkDisconnect');
    assert.equal(alice.client.eventsOf('reconnecting').length, 0, 'alice, pinging all along, was never cut');
  });
});

describe('refused resume: the server was restarted', () => {
  let stack;
  before(async () => {
    stack = await startStack({ withProxy: true, resumeGraceMs: RESUME_GRACE_MS });
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  it('a client that redials into a server that never knew it gets sessionDisconnected "networkDisconnect"', async () => {
    const session = await stack.createSession();
    const alice = await stack.join(session, 'alice', { data: 'alice' });
    const bob = await stack.join(session, 'bob', { data: 'bob' });
    await alice.client.waitFor('connectionCreated', (e) => e.connectionId === bob.connection.connectionId);

    await stack.restartBehindProxy({ resumeGraceMs: RESUME_GRACE_MS });
    await stack.server.kill();

    for (const member of [alice, bob]) {
      const disconnected = await member.client.waitFor('sessionDisconnected', undefined, DETECT_TIMEOUT_MS + GIVE_UP_TIMEOUT_MS);
      assert.equal(disconnected.reason, 'networkDisconnect', `${member.client.name} reason`);
      assert.deepEqual(lifecycle(member.client), ['reconnecting', 'sessionDisconnected:networkDisconnect'], member.client.name);
      assert.deepEqual(member.client.eventsOf('connectionDestroyed'), [], `${member.client.name}: no connectionDestroyed from a server that never knew them`);
    }
  });
});

describe('refused resume: evicted while cut off', () => {
  // Long enough that only the REST call, not the grace timer, can evict the cut-off client.
  const LONG_GRACE_MS = 15000;
  let stack;
  before(async () => {
    stack = await startStack({ withProxy: true, resumeGraceMs: LONG_GRACE_MS });
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  /** Alice and Bob join; Bob's socket is reset and his redials refused. */
  async function bobCutOff(tag) {
    const session = await stack.createSession();
    const alice = await stack.join(session, `alice-${tag}`, { data: 'alice' });
    const bob = await stack.join(session, `bob-${tag}`, { data: 'bob' });
    await alice.client.waitFor('connectionCreated', (e) => e.connectionId === bob.connection.connectionId);
    stack.proxy.setLabel(bob.client.name);
    stack.proxy.refuseRedials(true);
    assert.equal(stack.proxy.destroy(bob.client.name), 1, 'bob had one socket through the proxy');
    await bob.client.waitFor('reconnecting', undefined, DETECT_TIMEOUT_MS);
    return { session, alice, bob };
  }

  it('REST force-disconnect of a cut-off participant: others see "forceDisconnectByServer"; back online, it gets networkDisconnect', async () => {
    const { session, alice, bob } = await bobCutOff('rest-kick');
    await session.fetch();
    await session.forceDisconnect(bob.connection.connectionId);
    const destroyed = await alice.client.waitFor('connectionDestroyed', (e) => e.connectionId === bob.connection.connectionId);
    assert.equal(destroyed.reason, 'forceDisconnectByServer');
    await session.fetch();
    assert.deepEqual(session.activeConnections.map((c) => c.connectionId), [alice.connection.connectionId]);

    stack.proxy.refuseRedials(false);
    const disconnected = await bob.client.waitFor('sessionDisconnected', undefined, GIVE_UP_TIMEOUT_MS);
    assert.equal(disconnected.reason, 'networkDisconnect', 'the connect after the eviction is refused');
    assert.deepEqual(lifecycle(bob.client), ['reconnecting', 'sessionDisconnected:networkDisconnect']);
  });

  it('REST close of a session with a cut-off participant: the others get "sessionClosedByServer"; back online, it gets networkDisconnect', async () => {
    const { session, alice, bob } = await bobCutOff('close');
    await session.close();
    const closed = await alice.client.waitFor('sessionDisconnected');
    assert.equal(closed.reason, 'sessionClosedByServer');
    assert.equal((await stack.rest('GET', '/sessions/' + session.sessionId)).status, 404);

    stack.proxy.refuseRedials(false);
    const disconnected = await bob.client.waitFor('sessionDisconnected', undefined, GIVE_UP_TIMEOUT_MS);
    assert.equal(disconnected.reason, 'networkDisconnect');
  });
});

'use strict';
// Evictions as openvidu-browser reports them: REST force-disconnect, a MODERATOR's
// session.forceDisconnect(), a refused non-moderator forceDisconnect, REST session close.
// Spec: wire-protocol.md 3 (forceDisconnect), 4 (ordering: participantEvicted before the socket closes), 7.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/harness');
const { socketStats } = require('../lib/browser');
const { sleep, waitUntil } = require('../lib/wait');

// After an eviction, how long we keep watching the victim for a (wrong) resume attempt.
const AFTER_EVICTION_WATCH_MS = 1500;

/** Joins the named members into a new session, in order, and waits until all see the last one. */
async function sessionWith(stack, specs) {
  const session = await stack.createSession();
  const members = {};
  for (const [name, options] of specs) members[name] = await stack.join(session, name, options);
  const lastId = members[specs[specs.length - 1][0]].connection.connectionId;
  for (const member of Object.values(members)) {
    await member.client.waitFor('connectionCreated', (e) => e.connectionId === lastId);
  }
  return { session, members };
}

/**
 * The victim saw sessionDisconnected(reason) exactly once, never tried to resume, and its socket
 * is closed, with a closing handshake (statsBefore: socketStats copied before the eviction).
 */
async function assertEvicted(victim, reason, statsBefore) {
  const disconnected = await victim.client.waitFor('sessionDisconnected');
  assert.equal(disconnected.reason, reason, `${victim.client.name} sessionDisconnected reason`);
  await sleep(AFTER_EVICTION_WATCH_MS);
  assert.equal(victim.client.eventsOf('sessionDisconnected').length, 1, 'one sessionDisconnected');
  assert.equal(
    victim.client.eventsOf('reconnecting').length,
    0,
    'the victim did not treat the eviction as a network loss (participantEvicted must come before the socket closes)',
  );
  await waitUntil(() => victim.client.socketState() === 3, 10000, `${victim.client.name} socket closed`);
  assert.equal(socketStats.errors - statsBefore.errors, 0, 'no WebSocket error event since the eviction');
  assert.equal(socketStats.uncleanCloses - statsBefore.uncleanCloses, 0, 'sockets closed with a closing handshake');
}

describe('evictions', () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  it('REST forceDisconnect: others get connectionDestroyed, the victim sessionDisconnected, both "forceDisconnectByServer"', async () => {
    const { session, members } = await sessionWith(stack, [
      ['rf-alice', { data: 'a' }],
      ['rf-bob', { data: 'b' }],
      ['rf-carol', { data: 'c' }],
    ]);
    const bob = members['rf-bob'];
    await session.fetch();
    const statsBefore = { ...socketStats };
    await session.forceDisconnect(bob.connection.connectionId);

    for (const name of ['rf-alice', 'rf-carol']) {
      const destroyed = await members[name].client.waitFor('connectionDestroyed', (e) => e.connectionId === bob.connection.connectionId);
      assert.equal(destroyed.reason, 'forceDisconnectByServer', `${name} reason`);
    }
    await assertEvicted(bob, 'forceDisconnectByServer', statsBefore);
    assert.ok(session.activeConnections.every((c) => c.connectionId !== bob.connection.connectionId), 'node client dropped it');
    await session.fetch();
    assert.deepEqual(
      session.activeConnections.map((c) => c.connectionId).sort(),
      [members['rf-alice'].connection.connectionId, members['rf-carol'].connection.connectionId].sort(),
    );
    await assert.rejects(session.forceDisconnect(bob.connection.connectionId), { message: '404' }, 'a second time -> 404');
  });

  it('a MODERATOR client force-disconnects another: everyone gets "forceDisconnectByUser"', async () => {
    const { session, members } = await sessionWith(stack, [
      ['md-mod', { role: 'MODERATOR' }],
      ['md-victim', {}],
      ['md-witness', {}],
    ]);
    const moderator = members['md-mod'];
    const victim = members['md-victim'];
    const victimConnection = moderator.client.session.remoteConnections.get(victim.connection.connectionId);
    assert.ok(victimConnection, 'the moderator sees the victim');

    const statsBefore = { ...socketStats };
    await moderator.client.session.forceDisconnect(victimConnection);

    for (const name of ['md-mod', 'md-witness']) {
      const destroyed = await members[name].client.waitFor('connectionDestroyed', (e) => e.connectionId === victim.connection.connectionId);
      assert.equal(destroyed.reason, 'forceDisconnectByUser', `${name} reason`);
    }
    await assertEvicted(victim, 'forceDisconnectByUser', statsBefore);
    await session.fetch();
    assert.equal(session.activeConnections.length, 2);
    assert.ok(!session.activeConnections.some((c) => c.connectionId === victim.connection.connectionId));
  });

  it("a non-moderator's forceDisconnect is rejected (permission denied) and changes nothing", async () => {
    const { session, members } = await sessionWith(stack, [
      ['np-publisher', { role: 'PUBLISHER' }],
      ['np-subscriber', { role: 'SUBSCRIBER' }],
      ['np-target', {}],
    ]);
    for (const name of ['np-publisher', 'np-subscriber']) {
      const attacker = members[name];
      const target = attacker.client.session.remoteConnections.get(members['np-target'].connection.connectionId);
      await assert.rejects(attacker.client.session.forceDisconnect(target), (error) => {
        assert.equal(error.name, 'OPENVIDU_PERMISSION_DENIED', `${name}: error ${JSON.stringify(error)}`);
        return true;
      });
    }
    // A marker signal round-trip proves the sockets are live and that no eviction was queued before it.
    await members['np-target'].client.session.signal({ data: 'still-here' });
    for (const member of Object.values(members)) {
      await member.client.waitFor('signal', (e) => e.signalData === 'still-here');
      assert.equal(member.client.eventsOf('connectionDestroyed').length, 0, `${member.client.name}: nobody left`);
      assert.equal(member.client.eventsOf('sessionDisconnected').length, 0, `${member.client.name}: not disconnected`);
    }
    await session.fetch();
    assert.equal(session.activeConnections.length, 3);
  });

  it('a MODERATOR force-disconnecting an unknown connection is rejected (102) and changes nothing', async () => {
    const { session, members } = await sessionWith(stack, [
      ['mu-mod', { role: 'MODERATOR' }],
      ['mu-other', {}],
    ]);
    const moderator = members['mu-mod'];
    await assert.rejects(moderator.client.session.forceDisconnect({ connectionId: 'con_nosuchone' }), (error) => {
      assert.equal(error.code, 102, `error ${JSON.stringify(error)}`);
      return true;
    });
    await session.fetch();
    assert.equal(session.activeConnections.length, 2);
    assert.equal(members['mu-other'].client.eventsOf('sessionDisconnected').length, 0);
  });

  it('REST session close: every client gets sessionDisconnected "sessionClosedByServer"; the session is gone', async () => {
    const { session, members } = await sessionWith(stack, [
      ['sc-alice', { role: 'MODERATOR' }],
      ['sc-bob', {}],
      ['sc-carol', {}],
    ]);
    const statsBefore = { ...socketStats };
    await session.close();
    for (const member of Object.values(members)) {
      await assertEvicted(member, 'sessionClosedByServer', statsBefore);
      for (const destroyed of member.client.eventsOf('connectionDestroyed')) {
        assert.equal(destroyed.reason, 'sessionClosedByServer', `${member.client.name}: connectionDestroyed reason`);
      }
    }
    const raw = await stack.rest('GET', '/sessions/' + session.sessionId);
    assert.equal(raw.status, 404);
  });
});

'use strict';
// openvidu-browser 2.32.2 clients joining with session.connect(token, metadata): they see each
// other, their data, leaves; REST sees them as active. Spec: wire-protocol.md 3.1, 4, 7.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/harness');
const { socketStats } = require('../lib/browser');
const { PlatformUtils } = require('openvidu-browser/lib/OpenViduInternal/Utils/Platform');
const { waitUntil } = require('../lib/wait');

describe('presence with openvidu-browser clients', () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  it('the joiner sees itself first, then the ones already there; the others see it, with client%/%server data', async () => {
    const session = await stack.createSession();
    const alice = await stack.join(session, 'alice', { data: 'alice-srv', metadata: 'alice-cli' });
    const bob = await stack.join(session, 'bob', { role: 'MODERATOR', data: 'bob-srv', metadata: { nick: 'Bob' } });

    // Bob's own view (emitted before connect() resolved): own connection first, then Alice.
    const bobCreated = bob.client.eventsOf('connectionCreated');
    assert.deepEqual(
      bobCreated.map((e) => [e.connectionId, e.data]),
      [
        [bob.connection.connectionId, '{"nick":"Bob"}%/%bob-srv'],
        [alice.connection.connectionId, 'alice-cli%/%alice-srv'],
      ],
    );
    assert.equal(bob.client.session.connection.connectionId, bob.connection.connectionId, 'joinRoom id = REST connection id');
    const aliceForBob = bob.client.session.remoteConnections.get(alice.connection.connectionId);
    assert.ok(aliceForBob.remoteOptions && !aliceForBob.localOptions, 'a joinRoom value[] entry is a remote connection (no role in it)');
    assert.equal(aliceForBob.stream, undefined, 'no stream for a participant that does not publish');
    assert.equal(typeof aliceForBob.creationTime, 'number');
    assert.equal(typeof bob.client.session.connection.creationTime, 'number');
    assert.equal(typeof bob.client.session.connection.rpcSessionId, 'string', 'joinRoom result carries the RPC sessionId');
    assert.ok(bob.client.session.connection.rpcSessionId.length > 0);
    assert.notEqual(bob.client.session.connection.rpcSessionId, alice.client.session.connection.rpcSessionId, 'one RPC session per socket');
    assert.equal(bob.client.session.connection.role, 'MODERATOR');
    assert.equal(bob.client.session.sessionId, session.sessionId);
    assert.equal(bob.client.session.capabilities.forceDisconnect, true);
    assert.equal(alice.client.session.connection.role, 'PUBLISHER');
    assert.equal(alice.client.session.capabilities.forceDisconnect, false);

    // Alice's view: herself at join, then Bob's arrival.
    const bobSeen = await alice.client.waitFor('connectionCreated', (e) => e.connectionId === bob.connection.connectionId);
    assert.equal(bobSeen.data, '{"nick":"Bob"}%/%bob-srv');
    assert.equal(bobSeen.raw.connection.role, undefined, 'remote connections carry no role');
    assert.deepEqual(
      alice.client.eventsOf('connectionCreated').map((e) => e.connectionId),
      [alice.connection.connectionId, bob.connection.connectionId],
    );
    assert.ok(alice.client.session.remoteConnections.has(bob.connection.connectionId));
  });

  it('metadata only from one side: only client data, or only server data, without the %/% separator', async () => {
    const session = await stack.createSession();
    const onlyServer = await stack.join(session, 'only-server', { data: 'srv-only' });
    const onlyClient = await stack.join(session, 'only-client', { metadata: 'cli-only' });
    assert.equal(onlyServer.client.session.connection.data, 'srv-only');
    assert.equal(onlyClient.client.session.connection.data, 'cli-only');
    const seen = onlyClient.client.eventsOf('connectionCreated').find((e) => e.connectionId === onlyServer.connection.connectionId);
    assert.equal(seen.data, 'srv-only');
    const seenBack = await onlyServer.client.waitFor('connectionCreated', (e) => e.connectionId === onlyClient.connection.connectionId);
    assert.equal(seenBack.data, 'cli-only');
  });

  it('three clients: everyone sees everyone exactly once', async () => {
    const session = await stack.createSession();
    const members = [];
    for (const name of ['p1', 'p2', 'p3']) {
      members.push(await stack.join(session, name, { data: name + '-srv', metadata: name + '-cli' }));
    }
    const ids = members.map((m) => m.connection.connectionId);
    for (const member of members) {
      await waitUntil(() => member.client.eventsOf('connectionCreated').length >= 3, 10000, `${member.client.name} sees 3 connections`);
      const seenIds = member.client.eventsOf('connectionCreated').map((e) => e.connectionId);
      assert.deepEqual([...seenIds].sort(), [...ids].sort(), `${member.client.name} saw each connection once`);
      assert.equal(seenIds[0], member.connection.connectionId, `${member.client.name} saw itself first`);
    }
  });

  it('concurrent joins: every client ends up seeing every connection exactly once', async () => {
    const session = await stack.createSession();
    const count = 12;
    const connections = await Promise.all(
      Array.from({ length: count }, (_, i) => session.createConnection({ data: `crowd-${i}` })),
    );
    const clients = connections.map((_, i) => stack.browser(`crowd-${i}`));
    await Promise.all(clients.map((client, i) => client.connect(connections[i].token, `c${i}`)));
    const ids = connections.map((c) => c.connectionId).sort();
    for (const client of clients) {
      await waitUntil(() => client.eventsOf('connectionCreated').length >= count, 15000, `${client.name} sees ${count} connections`);
      const seen = client.eventsOf('connectionCreated').map((e) => e.connectionId);
      assert.deepEqual([...seen].sort(), ids, `${client.name} saw each connection exactly once`);
      assert.equal(client.session.remoteConnections.size, count - 1);
    }
    await session.fetch();
    assert.equal(session.activeConnections.length, count);
  });

  it('REST shows joined connections as active, with client and server data; activeConnections updates after joins', async () => {
    const session = await stack.createSession();
    const first = await stack.join(session, 'rest-a', { data: 'a-srv', metadata: 'a-cli' });
    await session.fetch();
    assert.deepEqual(
      session.activeConnections.map((c) => c.connectionId),
      [first.connection.connectionId],
    );
    const pendingSecond = await session.createConnection({ role: 'SUBSCRIBER', data: 'b-srv' });
    await session.fetch();
    assert.equal(session.activeConnections.length, 1, 'a pending connection is not active');
    assert.equal(session.connections.length, 2);

    const bob = stack.browser('rest-b');
    await bob.connect(pendingSecond.token, 'b-cli');
    const changed = await session.fetch();
    assert.equal(changed, true, 'fetch reports the change');
    assert.deepEqual(
      session.activeConnections.map((c) => c.connectionId).sort(),
      [first.connection.connectionId, pendingSecond.connectionId].sort(),
    );
    const active = session.activeConnections.find((c) => c.connectionId === pendingSecond.connectionId);
    assert.equal(active.status, 'active');
    assert.equal(active.clientData, 'b-cli');
    assert.equal(active.serverData, 'b-srv');
    assert.equal(active.connectionProperties.role, 'SUBSCRIBER');
    assert.equal(typeof active.activeAt, 'number');
    assert.ok(active.activeAt >= active.createdAt, 'activeAt >= createdAt');
    assert.equal(active.platform, PlatformUtils.getInstance().getDescription(), 'platform = joinRoom.platform');

    await stack.node.fetch();
    const listed = stack.node.activeSessions.find((s) => s.sessionId === session.sessionId);
    assert.equal(listed.activeConnections.length, 2, 'OpenVidu.fetch sees both active');

    const raw = await stack.rest('GET', '/sessions/' + session.sessionId);
    assert.equal(raw.json.connections.numberOfElements, 2, 'default GET lists the 2 active connections');
  });

  it('role and record from REST reach the browser; a PATCHed role applies to a joined client and is announced to it', async () => {
    const session = await stack.createSession();
    const target = await stack.join(session, 'patch-target', { data: 'target' });
    const promoted = await stack.join(session, 'patch-promoted', { role: 'SUBSCRIBER' });
    assert.equal(promoted.client.session.connection.role, 'SUBSCRIBER');
    const unrecorded = await session.createConnection({ record: false });
    const quiet = stack.browser('patch-unrecorded');
    await quiet.connect(unrecorded.token);
    assert.equal(quiet.session.connection.record, false, 'joinRoom record = REST record');
    assert.equal(promoted.client.session.connection.record, true);

    await session.fetch();
    await session.updateConnection(promoted.connection.connectionId, { role: 'MODERATOR' });
    const targetSeen = promoted.client.session.remoteConnections.get(target.connection.connectionId);
    await promoted.client.session.forceDisconnect(targetSeen);
    const evicted = await target.client.waitFor('sessionDisconnected');
    assert.equal(evicted.reason, 'forceDisconnectByUser');

    // OpenVidu tells the client its new role (connectionPropertyChanged), so Session.connection.role
    // and capabilities-based UIs follow the change.
    const changed = await promoted.client.waitFor('connectionPropertyChanged', undefined, 5000);
    assert.equal(changed.changedProperty, 'role');
    assert.equal(changed.newValue, 'MODERATOR');
    assert.equal(changed.oldValue, 'SUBSCRIBER');
    assert.equal(promoted.client.session.connection.role, 'MODERATOR');

    // record travels as the string "true"/"false" (Session.onConnectionPropertyChanged compares with 'true').
    await session.fetch();
    await session.updateConnection(unrecorded.connectionId, { record: true });
    const recordChanged = await quiet.waitFor('connectionPropertyChanged', (e) => e.changedProperty === 'record', 5000);
    assert.equal(recordChanged.newValue, true);
    assert.equal(quiet.session.connection.record, true);
    assert.equal(promoted.client.eventsOf('connectionPropertyChanged').length, 1, 'only the changed connection is told');
  });

  it('a leave gives connectionDestroyed "disconnect" to the others and sessionDisconnected "disconnect" to the leaver', async () => {
    const session = await stack.createSession();
    const stay = await stack.join(session, 'stay');
    const leave = await stack.join(session, 'leave');
    await stay.client.waitFor('connectionCreated', (e) => e.connectionId === leave.connection.connectionId);

    const statsBefore = { ...socketStats };
    leave.client.session.disconnect();
    const own = await leave.client.waitFor('sessionDisconnected');
    assert.equal(own.reason, 'disconnect');
    await waitUntil(() => leave.client.socketState() === 3, 12000, 'the leaver socket closes after leaveRoom');
    assert.equal(socketStats.errors - statsBefore.errors, 0, 'no WebSocket error event on leave');
    assert.equal(socketStats.uncleanCloses - statsBefore.uncleanCloses, 0, 'closed with a closing handshake');
    const destroyed = await stay.client.waitFor('connectionDestroyed', (e) => e.connectionId === leave.connection.connectionId);
    assert.equal(destroyed.reason, 'disconnect');
    assert.ok(!stay.client.session.remoteConnections.has(leave.connection.connectionId));

    await waitUntil(async () => {
      await session.fetch();
      return session.activeConnections.length === 1;
    }, 10000, 'REST shows one active connection after the leave');
    assert.equal(session.activeConnections[0].connectionId, stay.connection.connectionId);
  });

  it('when the last participant leaves, the session is removed (REST 404)', async () => {
    const session = await stack.createSession();
    const only = await stack.join(session, 'last-one');
    only.client.session.disconnect();
    await only.client.waitFor('sessionDisconnected');
    await waitUntil(async () => (await stack.rest('GET', '/sessions/' + session.sessionId)).status === 404, 10000, 'session removed');
    await assert.rejects(session.fetch(), { message: '404' });
  });

  it('a used token is rejected with code 401 and nobody sees a second connection', async () => {
    const session = await stack.createSession();
    const first = await stack.join(session, 'token-owner');
    const thief = stack.browser('token-thief');
    const error = await thief.connect(first.connection.token, 'again').then(
      () => assert.fail('joining with a used token succeeded'),
      (e) => e,
    );
    assert.equal(error.code, 401, `error was ${JSON.stringify(error)}`);
    assert.equal(thief.session.connection, undefined);

    assert.deepEqual(
      first.client.eventsOf('connectionCreated').map((e) => e.connectionId),
      [first.connection.connectionId],
    );
    await session.fetch();
    assert.equal(session.activeConnections.length, 1);

    // Still single use after its owner left (the session is then gone too: 202 is as good).
    first.client.session.disconnect();
    await first.client.waitFor('sessionDisconnected');
    const afterLeave = stack.browser('token-after-leave');
    const again = await afterLeave.connect(first.connection.token).then(
      () => assert.fail('a token used by a participant who left worked again'),
      (e) => e,
    );
    assert.ok([401, 202].includes(again.code), `error was ${JSON.stringify(again)}`);
  });

  it('a token whose pending connection was force-disconnected over REST is rejected with 401', async () => {
    const session = await stack.createSession();
    await stack.join(session, 'keeps-session-alive');
    const revoked = await session.createConnection({ data: 'revoked' });
    await session.fetch();
    await session.forceDisconnect(revoked.connectionId);
    const client = stack.browser('revoked');
    const error = await client.connect(revoked.token).then(
      () => assert.fail('joining with a revoked token succeeded'),
      (e) => e,
    );
    assert.equal(error.code, 401, `error was ${JSON.stringify(error)}`);
  });

  it('a token of a closed session is rejected (202: session does not exist)', async () => {
    const session = await stack.createSession();
    const connection = await session.createConnection();
    await session.close();
    const client = stack.browser('too-late');
    const error = await client.connect(connection.token).then(
      () => assert.fail('joining a closed session succeeded'),
      (e) => e,
    );
    assert.equal(error.code, 202, `error was ${JSON.stringify(error)}`);
  });

  it('a made-up token in an existing session is rejected with 401', async () => {
    const session = await stack.createSession();
    const real = await session.createConnection();
    const forged = real.token.replace(/token=tok_[A-Za-z0-9]+/, 'token=tok_AAAAAAAAAAAAAAAA');
    assert.notEqual(forged, real.token);
    const client = stack.browser('forger');
    const error = await client.connect(forged).then(
      () => assert.fail('joining with a forged token succeeded'),
      (e) => e,
    );
    assert.equal(error.code, 401, `error was ${JSON.stringify(error)}`);
    const owner = stack.browser('real-owner');
    await owner.connect(real.token);
    assert.equal(owner.connectionId, real.connectionId, 'the real token still works');
  });
});

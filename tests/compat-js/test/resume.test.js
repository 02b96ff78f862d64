'use strict';
// A cut socket resumes: openvidu-browser emits reconnecting -> reconnected, the others never see
// the participant leave, and signals flow both ways afterwards. The cut is made by a TCP proxy
// between the browser clients and the server. Spec: wire-protocol.md 5.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/harness');
const { sleep, waitUntil } = require('../lib/wait');

const RESUME_GRACE_MS = 4000;
// Client side: a blackholed socket is noticed by a failed ping (every 5 s, 5 s to answer), then
// redialed at once; a reset socket is redialed at once.
const DETECT_TIMEOUT_MS = 20000;
const RESUME_TIMEOUT_MS = 20000;
// Server side: a blackholed socket is closed by the ping watchdog (3 x 5 s without a ping) and
// that close must not evict the already resumed participant, even after the grace period.
const SERVER_WATCHDOG_MS = 15000;
const SETTLE_MARGIN_MS = 3000;

/** Alice then Bob join through the proxy (client names, and proxy labels, end in `tag`); resolves with both once Alice sees Bob. */
async function aliceAndBob(stack, tag) {
  const session = await stack.createSession();
  const alice = await stack.join(session, `alice-${tag}`, { data: 'alice-srv', metadata: 'alice-cli' });
  const bob = await stack.join(session, `bob-${tag}`, { data: 'bob-srv', metadata: 'bob-cli' });
  await alice.client.waitFor('connectionCreated', (e) => e.connectionId === bob.connection.connectionId);
  return { session, alice, bob };
}

/** After a resume: both directions of signaling work and REST still shows both, with the same ids. */
async function assertStillTogether(session, alice, bob, tag) {
  await bob.client.session.signal({ type: 'after', data: `${tag}: bob to all` });
  const fromBob = await alice.client.waitFor('signal', (e) => e.signalData === `${tag}: bob to all`);
  assert.equal(fromBob.from, bob.connection.connectionId);
  await bob.client.waitFor('signal', (e) => e.signalData === `${tag}: bob to all`);

  const bobForAlice = alice.client.session.remoteConnections.get(bob.connection.connectionId);
  assert.ok(bobForAlice, 'alice still has bob as a remote connection');
  await alice.client.session.signal({ data: `${tag}: alice to bob`, to: [bobForAlice] });
  const fromAlice = await bob.client.waitFor('signal', (e) => e.signalData === `${tag}: alice to bob`);
  assert.equal(fromAlice.from, alice.connection.connectionId);

  await session.fetch();
  assert.deepEqual(
    session.activeConnections.map((c) => c.connectionId).sort(),
    [alice.connection.connectionId, bob.connection.connectionId].sort(),
  );
  assert.equal(bob.client.connectionId, bob.connection.connectionId, 'bob kept his connection id');
}

/** Nobody saw bob leave, bob was not disconnected, alice was never cut. */
function assertNobodyLeft(alice, bob) {
  assert.deepEqual(alice.client.eventsOf('connectionDestroyed'), [], 'alice saw no connectionDestroyed');
  assert.deepEqual(bob.client.eventsOf('connectionDestroyed'), [], 'bob saw no connectionDestroyed');
  assert.equal(bob.client.eventsOf('sessionDisconnected').length, 0, 'bob was not disconnected');
  assert.equal(alice.client.eventsOf('reconnecting').length, 0, 'alice was not disturbed');
}

describe('resume after a cut socket', () => {
  let stack;
  before(async () => {
    stack = await startStack({ withProxy: true, resumeGraceMs: RESUME_GRACE_MS });
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  it('a reset socket: reconnecting -> reconnected, others see no connectionDestroyed', async () => {
    const { session, alice, bob } = await aliceAndBob(stack, 'reset');
    stack.proxy.setLabel(bob.client.name);
    assert.equal(stack.proxy.destroy(bob.client.name), 1, 'bob had one socket through the proxy');

    await bob.client.waitFor('reconnecting', undefined, DETECT_TIMEOUT_MS);
    await bob.client.waitFor('reconnected', undefined, RESUME_TIMEOUT_MS);
    assert.ok(stack.proxy.acceptedCount(bob.client.name) >= 2, 'bob dialed again through the proxy');

    // Outlast the grace period: a participant that resumed must not be evicted by a stale timer.
    await sleep(RESUME_GRACE_MS + SETTLE_MARGIN_MS);
    assertNobodyLeft(alice, bob);
    await assertStillTogether(session, alice, bob, 'reset');
  });

  it('a second cut resumes too (the browser presents the RPC sessionId from joinRoom every time)', async () => {
    const { session, alice, bob } = await aliceAndBob(stack, 'twice');
    const rpcSessionId = bob.client.session.connection.rpcSessionId;
    stack.proxy.setLabel(bob.client.name);
    for (const round of [1, 2]) {
      assert.equal(stack.proxy.destroy(bob.client.name), 1, `round ${round}: bob had one socket through the proxy`);
      await waitUntil(() => bob.client.eventsOf('reconnected').length === round, RESUME_TIMEOUT_MS, `round ${round}: bob resumed`);
      assert.equal(bob.client.eventsOf('reconnecting').length, round);
      assert.equal(bob.client.session.connection.rpcSessionId, rpcSessionId, 'the browser never updates its RPC sessionId');
      await assertStillTogether(session, alice, bob, `twice-${round}`);
    }
    assertNobodyLeft(alice, bob);
  });

  it('a blackholed socket (nothing forwarded, nothing closed): reconnecting -> reconnected, others see no connectionDestroyed', async () => {
    const { session, alice, bob } = await aliceAndBob(stack, 'blackhole');
    stack.proxy.setLabel(bob.client.name);
    assert.equal(stack.proxy.blackhole(bob.client.name), 1, 'bob had one socket through the proxy');
    const cutAt = Date.now();

    await bob.client.waitFor('reconnecting', undefined, DETECT_TIMEOUT_MS);
    await bob.client.waitFor('reconnected', undefined, RESUME_TIMEOUT_MS);

    // The server still holds the old, silent socket; its watchdog closes it later. That close
    // (and the grace period after it) must not evict bob, who is already on a new socket.
    const waitLeft = cutAt + SERVER_WATCHDOG_MS + RESUME_GRACE_MS + SETTLE_MARGIN_MS - Date.now();
    if (waitLeft > 0) await sleep(waitLeft);
    assertNobodyLeft(alice, bob);
    await assertStillTogether(session, alice, bob, 'blackhole');
  });
});

describe('what happens while a socket is cut reaches the client after it resumes', () => {
  // Long enough for: first redial refused at once, the test's actions, the library's next redial 3 s later.
  const GRACE_MS = 9000;
  // Time for the server to notice a reset loopback socket before the test acts on the session.
  const NOTICE_MS = 1000;
  let stack;
  before(async () => {
    stack = await startStack({ withProxy: true, resumeGraceMs: GRACE_MS });
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  it('signals (client and REST) and a join during the cut are delivered after the resume, in order', async () => {
    const { session, alice, bob } = await aliceAndBob(stack, 'backlog');
    const carolConnection = await session.createConnection({ data: 'carol-srv' });

    stack.proxy.setLabel(bob.client.name);
    stack.proxy.refuseRedials(true);
    assert.equal(stack.proxy.destroy(bob.client.name), 1, 'bob had one socket through the proxy');
    await bob.client.waitFor('reconnecting', undefined, DETECT_TIMEOUT_MS);
    await sleep(NOTICE_MS);

    await alice.client.session.signal({ type: 'cut', data: 'during-cut-1' });
    const rest = await stack.rest('POST', '/signal', { session: session.sessionId, to: [bob.connection.connectionId], type: 'cut', data: 'during-cut-2' });
    assert.equal(rest.status, 200, rest.text);
    stack.proxy.setLabel('carol-backlog');
    const carol = stack.browser('carol-backlog');
    await carol.connect(carolConnection.token, 'carol-cli');
    await alice.client.session.signal({ type: 'cut', data: 'during-cut-3' });
    assert.equal(bob.client.eventsOf('reconnected').length, 0, 'bob is still cut off');
    await session.fetch();
    assert.ok(
      session.activeConnections.some((c) => c.connectionId === bob.connection.connectionId),
      'inside the grace period REST still lists bob as active',
    );

    stack.proxy.setLabel(bob.client.name);
    stack.proxy.refuseRedials(false);
    await bob.client.waitFor('reconnected', undefined, RESUME_TIMEOUT_MS);
    await bob.client.waitFor('signal', (e) => e.signalData === 'during-cut-3');
    const cutSignals = bob.client.eventsOf('signal').filter((e) => e.signalType === 'signal:cut');
    assert.deepEqual(
      cutSignals.map((e) => [e.signalData, e.from]),
      [
        ['during-cut-1', alice.connection.connectionId],
        ['during-cut-2', undefined],
        ['during-cut-3', alice.connection.connectionId],
      ],
    );
    const carolSeen = bob.client.eventsOf('connectionCreated').find((e) => e.connectionId === carolConnection.connectionId);
    assert.ok(carolSeen, `bob learned that carol joined; saw ${bob.client.describeEvents()}`);
    assert.equal(carolSeen.data, 'carol-cli%/%carol-srv');
    assert.deepEqual(alice.client.eventsOf('connectionDestroyed'), [], 'alice never saw bob leave');
    assert.deepEqual(carol.eventsOf('connectionDestroyed'), [], 'carol never saw bob leave');
    assert.ok(carol.eventsOf('connectionCreated').some((e) => e.connectionId === bob.connection.connectionId), 'carol got bob in her roster');
  });
});

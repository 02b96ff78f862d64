'use strict';
// Signals: session.signal() from openvidu-browser (arrive with `from`) and REST POST /signal
// (arrive without `from`). Spec: wire-protocol.md 3 (sendMessage), 4, 7.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/harness');

/** Joins `names` into one new session, in order; resolves with { session, members }. */
async function sessionWith(stack, names) {
  const session = await stack.createSession();
  const members = {};
  for (const name of names) members[name] = await stack.join(session, name, { data: name });
  const last = members[names[names.length - 1]];
  for (const name of names) {
    await members[name].client.waitFor('connectionCreated', (e) => e.connectionId === last.connection.connectionId);
  }
  return { session, members };
}

describe('signals', () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  it('a broadcast signal reaches everyone, the sender included, with type, data and from', async () => {
    const { members } = await sessionWith(stack, ['s-alice', 's-bob', 's-carol']);
    const { 's-alice': alice } = members;
    const typed = [];
    members['s-bob'].client.session.on('signal:chat', (event) => typed.push(event));

    await alice.client.session.signal({ type: 'chat', data: 'hello all' });
    for (const member of Object.values(members)) {
      const signal = await member.client.waitFor('signal', (e) => e.signalData === 'hello all');
      assert.equal(signal.signalType, 'signal:chat', `${member.client.name} type`);
      assert.equal(signal.from, alice.connection.connectionId, `${member.client.name} from`);
    }
    assert.equal(typed.length, 1, 'the typed listener signal:chat fired once');
    assert.equal(typed[0].from.connectionId, alice.connection.connectionId);
    assert.equal(typed[0].from.data, 's-alice', 'from is the Connection object with its data');
  });

  it('a signal with no type arrives as type "signal"; empty data arrives as ""', async () => {
    const { members } = await sessionWith(stack, ['u-alice', 'u-bob']);
    await members['u-alice'].client.session.signal({});
    const signal = await members['u-bob'].client.waitFor('signal');
    assert.equal(signal.signalType, 'signal:signal');
    assert.equal(signal.signalData, '');
    assert.equal(signal.from, members['u-alice'].connection.connectionId);
  });

  it('a signal to one connection reaches only that one', async () => {
    const { members } = await sessionWith(stack, ['t-alice', 't-bob', 't-carol']);
    const alice = members['t-alice'];
    const bob = members['t-bob'];
    const bobSeenByAlice = alice.client.session.remoteConnections.get(bob.connection.connectionId);
    assert.ok(bobSeenByAlice, 'alice knows bob');

    await alice.client.session.signal({ type: 'dm', data: 'for bob only', to: [bobSeenByAlice] });
    const got = await bob.client.waitFor('signal', (e) => e.signalData === 'for bob only');
    assert.equal(got.from, alice.connection.connectionId);
    // The server delivers notifications before it answers the sender; send a broadcast marker and
    // wait for it everywhere, so a misrouted copy would already have been recorded.
    await alice.client.session.signal({ type: 'marker', data: 'marker-1' });
    for (const member of Object.values(members)) {
      await member.client.waitFor('signal', (e) => e.signalData === 'marker-1');
    }
    assert.equal(alice.client.eventsOf('signal').filter((e) => e.signalData === 'for bob only').length, 0, 'not to the sender');
    assert.equal(members['t-carol'].client.eventsOf('signal').filter((e) => e.signalData === 'for bob only').length, 0, 'not to carol');
  });

  it('a signal to an unknown connection id is rejected and reaches nobody', async () => {
    const { members } = await sessionWith(stack, ['x-alice', 'x-bob']);
    const alice = members['x-alice'];
    const bob = members['x-bob'];
    await assert.rejects(
      alice.client.session.signal({ data: 'to a ghost', to: [{ connectionId: 'con_ghostghost' }] }),
      (error) => {
        assert.equal(error.code, 601, `error was ${JSON.stringify(error)}`);
        return true;
      },
    );
    await alice.client.session.signal({ data: 'marker-2' });
    await bob.client.waitFor('signal', (e) => e.signalData === 'marker-2');
    await alice.client.waitFor('signal', (e) => e.signalData === 'marker-2');
    assert.equal(bob.client.eventsOf('signal').filter((e) => e.signalData === 'to a ghost').length, 0);
    assert.equal(alice.client.eventsOf('signal').filter((e) => e.signalData === 'to a ghost').length, 0);
  });

  it('signals from one sender arrive in the order they were sent', async () => {
    const { members } = await sessionWith(stack, ['o-alice', 'o-bob']);
    const count = 50;
    const sent = [];
    for (let i = 0; i < count; i++) sent.push(members['o-alice'].client.session.signal({ type: 'seq', data: String(i) }));
    await Promise.all(sent);
    await members['o-bob'].client.waitFor('signal', (e) => e.signalData === String(count - 1));
    const received = members['o-bob'].client.eventsOf('signal').filter((e) => e.signalType === 'signal:seq').map((e) => Number(e.signalData));
    assert.deepEqual(received, [...Array(count).keys()]);
  });

  it('signals and presence stay inside their session', async () => {
    const first = await sessionWith(stack, ['i-alice', 'i-bob']);
    const second = await sessionWith(stack, ['i-carol']);
    const carol = second.members['i-carol'];
    await first.members['i-alice'].client.session.signal({ data: 'first-session-only' });
    const rest = await stack.rest('POST', '/signal', { session: first.session.sessionId, data: 'first-session-rest' });
    assert.equal(rest.status, 200, rest.text);
    await first.members['i-bob'].client.waitFor('signal', (e) => e.signalData === 'first-session-rest');
    await carol.client.session.signal({ data: 'second-session-marker' });
    await carol.client.waitFor('signal', (e) => e.signalData === 'second-session-marker');
    assert.deepEqual(
      carol.client.eventsOf('signal').map((e) => e.signalData),
      ['second-session-marker'],
      'carol got nothing from the other session',
    );
    assert.deepEqual(
      carol.client.eventsOf('connectionCreated').map((e) => e.connectionId),
      [carol.connection.connectionId],
    );
    for (const member of Object.values(first.members)) {
      assert.ok(!member.client.eventsOf('signal').some((e) => e.signalData === 'second-session-marker'));
      assert.ok(!member.client.eventsOf('connectionCreated').some((e) => e.connectionId === carol.connection.connectionId));
    }
  });

  it('REST POST /signal reaches everyone without from; with `to` only the listed connections', async () => {
    const { session, members } = await sessionWith(stack, ['r-alice', 'r-bob']);
    const alice = members['r-alice'];
    const bob = members['r-bob'];

    const all = await stack.rest('POST', '/signal', { session: session.sessionId, type: 'news', data: 'server says hi' });
    assert.equal(all.status, 200, all.text);
    for (const member of [alice, bob]) {
      const signal = await member.client.waitFor('signal', (e) => e.signalData === 'server says hi');
      assert.equal(signal.signalType, 'signal:news');
      assert.equal(signal.from, undefined, 'no from for server signals');
      assert.equal(signal.raw.from, undefined);
    }

    const direct = await stack.rest('POST', '/signal', {
      session: session.sessionId,
      to: [bob.connection.connectionId],
      type: 'news',
      data: 'bob only',
    });
    assert.equal(direct.status, 200, direct.text);
    await bob.client.waitFor('signal', (e) => e.signalData === 'bob only');
    const marker = await stack.rest('POST', '/signal', { session: session.sessionId, data: 'marker-3' });
    assert.equal(marker.status, 200, marker.text);
    await alice.client.waitFor('signal', (e) => e.signalData === 'marker-3');
    assert.equal(alice.client.eventsOf('signal').filter((e) => e.signalData === 'bob only').length, 0);
    const untyped = alice.client.eventsOf('signal').find((e) => e.signalData === 'marker-3');
    assert.equal(untyped.signalType, 'signal:signal', 'REST signal without type arrives as signal');

    const emptyTo = await stack.rest('POST', '/signal', { session: session.sessionId, to: [], data: 'empty to = all' });
    assert.equal(emptyTo.status, 200, emptyTo.text);
    for (const member of [alice, bob]) await member.client.waitFor('signal', (e) => e.signalData === 'empty to = all');
  });

  it('REST POST /signal errors: 404 unknown session, 406 unknown recipient, 400 bad body; nobody gets anything', async () => {
    const { session, members } = await sessionWith(stack, ['e-alice']);
    const alice = members['e-alice'];
    const unknownSession = await stack.rest('POST', '/signal', { session: 'ses_nosuchthing', data: 'lost-1' });
    assert.equal(unknownSession.status, 404, unknownSession.text);
    const unknownTarget = await stack.rest('POST', '/signal', { session: session.sessionId, to: ['con_nosuchthing'], data: 'lost-2' });
    assert.equal(unknownTarget.status, 406, unknownTarget.text);
    const badBody = await stack.rest('POST', '/signal', '{not json');
    assert.equal(badBody.status, 400, badBody.text);
    const noSession = await stack.rest('POST', '/signal', { data: 'lost-3' });
    assert.equal(noSession.status, 400, noSession.text);
    // OpenVidu REST: 406 when the session has no connected participant.
    const empty = await stack.createSession();
    await empty.createConnection();
    const nobodyThere = await stack.rest('POST', '/signal', { session: empty.sessionId, data: 'lost-4' });
    assert.equal(nobodyThere.status, 406, nobodyThere.text);
    const ok = await stack.rest('POST', '/signal', { session: session.sessionId, data: 'marker-4' });
    assert.equal(ok.status, 200, ok.text);
    await alice.client.waitFor('signal', (e) => e.signalData === 'marker-4');
    assert.deepEqual(
      alice.client.eventsOf('signal').map((e) => e.signalData),
      ['marker-4'],
    );
  });
});

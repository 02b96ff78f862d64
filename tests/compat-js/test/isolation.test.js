'use strict';
// Sessions are isolated: a connection id of another session is unknown everywhere — as a signal
// recipient (browser and REST), as a forceDisconnect target (moderator and REST). Bad requests are
// refused and change nothing. Spec: wire-protocol.md 3 (601, 102), 7 (404, 406).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/harness');

describe('session isolation', () => {
  let stack;
  let red;
  let blue;

  /** Both sessions: a moderator and a member each; everyone sees their own session complete. */
  before(async () => {
    stack = await startStack();
    const make = async (color) => {
      const session = await stack.createSession();
      const moderator = await stack.join(session, `${color}-mod`, { role: 'MODERATOR', data: color });
      const member = await stack.join(session, `${color}-member`, { data: color });
      await moderator.client.waitFor('connectionCreated', (e) => e.connectionId === member.connection.connectionId);
      return { session, moderator, member };
    };
    red = await make('red');
    blue = await make('blue');
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  /** Everyone is still joined: a marker broadcast in each session reaches exactly that session's members. */
  async function assertUntouched(tag) {
    for (const side of [red, blue]) {
      await side.moderator.client.session.signal({ data: `${tag}-marker` });
      for (const member of [side.moderator, side.member]) {
        await member.client.waitFor('signal', (e) => e.signalData === `${tag}-marker` && e.from === side.moderator.connection.connectionId);
        assert.equal(member.client.eventsOf('sessionDisconnected').length, 0, `${member.client.name} still joined`);
        assert.equal(member.client.eventsOf('connectionDestroyed').length, 0, `${member.client.name} lost nobody`);
        const markers = member.client.eventsOf('signal').filter((e) => e.signalData === `${tag}-marker`);
        assert.equal(markers.length, 1, `${member.client.name} got only its own session's marker`);
      }
      await side.session.fetch();
      assert.equal(side.session.activeConnections.length, 2);
    }
  }

  it('a browser signal to a connection of another session is rejected (601) and delivered to nobody', async () => {
    await assert.rejects(
      red.member.client.session.signal({ data: 'cross-1', to: [{ connectionId: blue.member.connection.connectionId }] }),
      (error) => {
        assert.equal(error.code, 601, `error ${JSON.stringify(error)}`);
        return true;
      },
    );
    await assertUntouched('after-cross-1');
    assert.ok(!blue.member.client.eventsOf('signal').some((e) => e.signalData === 'cross-1'));
  });

  it('a REST signal to session A naming a connection of session B is refused (406) and delivered to nobody', async () => {
    const response = await stack.rest('POST', '/signal', {
      session: red.session.sessionId,
      to: [blue.member.connection.connectionId],
      data: 'cross-2',
    });
    assert.equal(response.status, 406, response.text);
    await assertUntouched('after-cross-2');
    for (const member of [blue.member, blue.moderator, red.member, red.moderator]) {
      assert.ok(!member.client.eventsOf('signal').some((e) => e.signalData === 'cross-2'), member.client.name);
    }
  });

  it("a moderator cannot force-disconnect another session's connection (102)", async () => {
    await assert.rejects(
      red.moderator.client.session.forceDisconnect({ connectionId: blue.member.connection.connectionId }),
      (error) => {
        assert.equal(error.code, 102, `error ${JSON.stringify(error)}`);
        return true;
      },
    );
    await assertUntouched('after-cross-3');
  });

  it("REST DELETE of another session's connection under session A answers 404 and disconnects nobody", async () => {
    const response = await stack.rest('DELETE', `/sessions/${red.session.sessionId}/connection/${blue.member.connection.connectionId}`);
    assert.equal(response.status, 404, response.text);
    const get = await stack.rest('GET', `/sessions/${red.session.sessionId}/connection/${blue.member.connection.connectionId}`);
    assert.equal(get.status, 404, get.text);
    await assertUntouched('after-cross-4');
  });
});

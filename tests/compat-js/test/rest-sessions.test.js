'use strict';
// REST API as openvidu-node-client 2.32.2 drives it: sessions, connections, tokens, fetch, close.
// Spec: wire-protocol.md section 7.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack, OpenViduNode } = require('../lib/harness');

const SESSION_ID = /^ses_[A-Za-z0-9]{10}$/;
const CONNECTION_ID = /^con_[A-Za-z0-9]{10}$/;
const TOKEN_ID = /^tok_[A-Za-z0-9]{16}$/;

/** Splits a token URL the way openvidu-browser does (Session.getTokenParams). */
function tokenParts(token) {
  const [origin, query = ''] = token.split('?');
  const params = Object.fromEntries(query.split('&').map((pair) => pair.split('=')));
  return { origin, params };
}

describe('REST through openvidu-node-client', () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  it('creates a session without customSessionId: generated ses_ id, defaults echoed', async () => {
    const before = Date.now();
    const session = await stack.createSession();
    assert.match(session.sessionId, SESSION_ID);
    assert.equal(typeof session.createdAt, 'number');
    assert.ok(session.createdAt >= before - 60000 && session.createdAt <= Date.now() + 60000, 'createdAt is epoch ms');
    assert.equal(session.properties.mediaMode, 'ROUTED');
    assert.equal(session.properties.recordingMode, 'MANUAL');
    assert.equal(session.properties.customSessionId, '');
    const other = await stack.createSession();
    assert.notEqual(other.sessionId, session.sessionId, 'two sessions get two ids');
  });

  it('creates a session with customSessionId, and a second create of the same id (409) fetches the existing one', async () => {
    const first = await stack.createSession({ customSessionId: 'compat-custom_1' });
    assert.equal(first.sessionId, 'compat-custom_1');
    assert.equal(first.properties.customSessionId, 'compat-custom_1');

    const conflict = await stack.rest('POST', '/sessions', { customSessionId: 'compat-custom_1' });
    assert.equal(conflict.status, 409, 'raw POST of an existing custom id answers 409');

    const second = await stack.createSession({ customSessionId: 'compat-custom_1' });
    assert.equal(second.sessionId, 'compat-custom_1');
    assert.equal(second.createdAt, first.createdAt, 'the node client fetched the existing session after the 409');
  });

  it('echoes the session properties the node client sends', async () => {
    const session = await stack.createSession({
      mediaMode: 'RELAYED',
      recordingMode: 'MANUAL',
      forcedVideoCodec: 'H264',
      allowTranscoding: true,
      defaultRecordingProperties: { name: 'rec-name', hasAudio: false, outputMode: 'INDIVIDUAL' },
    });
    assert.equal(session.properties.mediaMode, 'RELAYED');
    assert.equal(session.properties.forcedVideoCodec, 'H264');
    assert.equal(session.properties.allowTranscoding, true);
    assert.equal(session.properties.defaultRecordingProperties.name, 'rec-name');
    assert.equal(session.properties.defaultRecordingProperties.hasAudio, false);
    assert.equal(session.properties.defaultRecordingProperties.outputMode, 'INDIVIDUAL');
    await stack.node.fetch();
    const listed = stack.node.activeSessions.find((s) => s.sessionId === session.sessionId);
    assert.equal(listed.properties.mediaMode, 'RELAYED', 'GET returns the same properties');
    assert.equal(listed.properties.forcedVideoCodec, 'H264');
  });

  it('rejects a customSessionId with characters outside [a-zA-Z0-9_-] with 400', async () => {
    await assert.rejects(stack.createSession({ customSessionId: 'bad id!' }), { message: '400' });
    const list = await stack.rest('GET', '/sessions');
    assert.equal(list.status, 200);
    assert.ok(!list.json.content.some((s) => s.sessionId === 'bad id!'), 'nothing was created');
  });

  it('rejects a wrong secret with 401 and creates nothing', async () => {
    const countBefore = (await stack.rest('GET', '/sessions')).json.numberOfElements;
    const intruder = new OpenViduNode.OpenVidu(stack.server.httpUrl, 'not-the-secret');
    await assert.rejects(intruder.createSession({ customSessionId: 'compat-intruder' }), { message: '401' });
    const noAuth = await fetch(stack.server.httpUrl + '/openvidu/api/sessions');
    assert.equal(noAuth.status, 401, 'no Authorization header -> 401');
    const after = (await stack.rest('GET', '/sessions')).json;
    assert.equal(after.numberOfElements, countBefore);
    assert.ok(!after.content.some((s) => s.sessionId === 'compat-intruder'));
  });

  it('allows CORS from any origin (preflight and actual request)', async () => {
    const origin = 'http://app.example.test';
    const preflight = await fetch(stack.server.httpUrl + '/openvidu/api/sessions', {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type',
      },
    });
    assert.ok(preflight.status >= 200 && preflight.status < 300, `preflight status ${preflight.status}`);
    const allowOrigin = preflight.headers.get('access-control-allow-origin');
    assert.ok(allowOrigin === '*' || allowOrigin === origin, `allow-origin ${allowOrigin}`);
    const allowHeaders = (preflight.headers.get('access-control-allow-headers') || '').toLowerCase();
    assert.ok(allowHeaders === '*' || (allowHeaders.includes('authorization') && allowHeaders.includes('content-type')), `allow-headers ${allowHeaders}`);
    const allowMethods = (preflight.headers.get('access-control-allow-methods') || '').toUpperCase();
    assert.ok(allowMethods === '*' || allowMethods.includes('POST'), `allow-methods ${allowMethods}`);

    const actual = await fetch(stack.server.httpUrl + '/openvidu/api/sessions', {
      headers: { Origin: origin, Authorization: 'Basic ' + Buffer.from('OPENVIDUAPP:' + stack.server.secret).toString('base64') },
    });
    assert.equal(actual.status, 200);
    const actualAllow = actual.headers.get('access-control-allow-origin');
    assert.ok(actualAllow === '*' || actualAllow === origin, `allow-origin on GET ${actualAllow}`);
  });

  it('creates connections with role and data: pending, con_ id, token URL pointing at the server', async () => {
    const session = await stack.createSession();
    const moderator = await session.createConnection({ role: 'MODERATOR', data: 'server-data-1' });
    assert.match(moderator.connectionId, CONNECTION_ID);
    assert.equal(moderator.status, 'pending');
    assert.equal(moderator.connectionProperties.role, 'MODERATOR');
    assert.equal(moderator.connectionProperties.data, 'server-data-1');
    assert.equal(moderator.serverData, 'server-data-1');
    assert.equal(moderator.connectionProperties.type, 'WEBRTC');

    const { origin, params } = tokenParts(moderator.token);
    const port = new URL(stack.server.httpUrl).port;
    assert.equal(origin, `ws://127.0.0.1:${port}`, 'token origin = server origin with ws scheme');
    assert.equal(params.sessionId, session.sessionId);
    assert.match(params.token, TOKEN_ID);
    assert.ok(!('edition' in params), 'no edition= in tokens');

    const plain = await session.createConnection();
    assert.equal(plain.connectionProperties.role, 'PUBLISHER', 'null role means PUBLISHER');
    assert.equal(plain.connectionProperties.record, true, 'null record means true');
    assert.equal(plain.connectionProperties.data, '', 'null data means ""');
    assert.notEqual(plain.connectionId, moderator.connectionId);
    assert.notEqual(plain.token, moderator.token);

    const subscriber = await session.createConnection({ role: 'SUBSCRIBER', record: false });
    assert.equal(subscriber.connectionProperties.role, 'SUBSCRIBER');
    assert.equal(subscriber.connectionProperties.record, false);
  });

  it('echoes kurentoOptions and keeps them across fetch', async () => {
    const session = await stack.createSession();
    const kurentoOptions = { videoMaxRecvBandwidth: 1000, allowedFilters: ['GStreamerFilter'] };
    const connection = await session.createConnection({ kurentoOptions });
    assert.deepEqual(connection.connectionProperties.kurentoOptions, kurentoOptions);
    await session.fetch();
    assert.deepEqual(session.connections[0].connectionProperties.kurentoOptions, kurentoOptions);
  });

  it('updates a pending connection (PATCH): role and record', async () => {
    const session = await stack.createSession();
    const connection = await session.createConnection({ role: 'SUBSCRIBER' });
    await session.fetch();
    const updated = await session.updateConnection(connection.connectionId, { role: 'MODERATOR', record: false });
    assert.equal(updated.connectionProperties.role, 'MODERATOR');
    assert.equal(updated.connectionProperties.record, false);
    const raw = await stack.rest('GET', `/sessions/${session.sessionId}/connection/${connection.connectionId}`);
    assert.equal(raw.status, 200, raw.text);
    assert.equal(raw.json.role, 'MODERATOR');
    assert.equal(raw.json.record, false);
    await assert.rejects(session.updateConnection('con_nosuchthing', { role: 'MODERATOR' }), { message: '404' });
    await assert.rejects(session.updateConnection(connection.connectionId, { role: 'EMPEROR' }), { message: '400' });
  });

  it('creates a token with the deprecated generateToken (POST /tokens)', async () => {
    const session = await stack.createSession();
    const token = await session.generateToken({ role: 'SUBSCRIBER', data: 'legacy' });
    const { params } = tokenParts(token);
    assert.equal(params.sessionId, session.sessionId);
    assert.match(params.token, TOKEN_ID);
    await session.fetch();
    const pending = session.connections.find((c) => c.token === token);
    assert.ok(pending, 'the token shows up as a pending connection');
    assert.equal(pending.status, 'pending');
    assert.equal(pending.connectionProperties.role, 'SUBSCRIBER');
    assert.equal(pending.serverData, 'legacy');
  });

  it('fetches one session (pending connections listed, none active) and lists all sessions', async () => {
    const session = await stack.createSession();
    const connection = await session.createConnection({ data: 'pending-one' });
    const changed = await session.fetch();
    assert.equal(typeof changed, 'boolean');
    assert.deepEqual(
      session.connections.map((c) => [c.connectionId, c.status]),
      [[connection.connectionId, 'pending']],
    );
    assert.equal(session.activeConnections.length, 0);

    const listed = await stack.node.fetch();
    assert.equal(typeof listed, 'boolean');
    const mine = stack.node.activeSessions.find((s) => s.sessionId === session.sessionId);
    assert.ok(mine, 'OpenVidu.fetch lists the session');
    assert.equal(mine.connections.length, 1, 'pendingConnections=true lists the pending connection');

    const raw = await stack.rest('GET', '/sessions/' + session.sessionId);
    assert.equal(raw.status, 200);
    assert.equal(raw.json.id, session.sessionId);
    assert.equal(raw.json.sessionId, session.sessionId);
    assert.equal(raw.json.object, 'session');
    assert.equal(raw.json.connections.numberOfElements, 0, 'without pendingConnections only active ones');
  });

  it('fetch reports no change when nothing changed, and a change when something did', async () => {
    const session = await stack.createSession();
    await session.createConnection({ data: 'one' });
    await session.fetch();
    assert.equal(await session.fetch(), false, 'second fetch of an unchanged session');
    await stack.node.fetch();
    assert.equal(await stack.node.fetch(), false, 'second OpenVidu.fetch with nothing changed');
    // Created by someone else (raw REST): this Session object does not know it yet.
    const created = await stack.rest('POST', `/sessions/${session.sessionId}/connection`, { data: 'two' });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.json.connectionId, created.json.id);
    assert.equal(await session.fetch(), true, 'a new connection is a change');
    assert.equal(session.connections.length, 2);
    assert.ok(session.connections[0].createdAt <= session.connections[1].createdAt);
  });

  it('REST force-unpublish of an unknown stream answers 404; of an unknown session 400', async () => {
    const session = await stack.createSession();
    await assert.rejects(session.forceUnpublish('str_CAM_nothing_con_nothing'), { message: '404' });
    // Reference server (SessionRestController.unpublishStream): unknown session -> 400.
    const raw = await stack.rest('DELETE', '/sessions/ses_nonexisting/stream/str_x');
    assert.equal(raw.status, 400, `unknown session: ${raw.status}`);
  });

  it('creating a connection in an unknown session fails with 404', async () => {
    const session = await stack.createSession();
    await session.close();
    await assert.rejects(session.createConnection({ data: 'x' }), { message: '404' });
    await assert.rejects(session.generateToken(), { message: '404' });
  });

  it('force-disconnects a pending connection: 204, gone from the session; unknown id -> 404, unknown session -> 400', async () => {
    const session = await stack.createSession();
    const keep = await session.createConnection({ data: 'keep' });
    const drop = await session.createConnection({ data: 'drop' });
    await session.fetch();
    await session.forceDisconnect(drop);
    await session.fetch();
    assert.deepEqual(
      session.connections.map((c) => c.connectionId),
      [keep.connectionId],
    );
    await assert.rejects(session.forceDisconnect('con_doesnotexist'), { message: '404' });
    // Reference server (SessionRestController.disconnectParticipant) and spec: unknown session -> 400.
    await session.close();
    await assert.rejects(session.forceDisconnect(keep.connectionId), { message: '400' });
  });

  it('closes a session: 204, then fetch gives 404, the list no longer has it, a second close gives 404', async () => {
    const session = await stack.createSession();
    await session.createConnection();
    await stack.node.fetch();
    assert.ok(stack.node.activeSessions.some((s) => s.sessionId === session.sessionId));
    await session.close();
    assert.ok(!stack.node.activeSessions.some((s) => s.sessionId === session.sessionId), 'node client dropped it');
    await assert.rejects(session.fetch(), { message: '404' });
    await stack.node.fetch();
    assert.ok(!stack.node.activeSessions.some((s) => s.sessionId === session.sessionId), 'server no longer lists it');
    await assert.rejects(session.close(), { message: '404' });
  });

  it('a closed custom session id can be created again', async () => {
    const first = await stack.createSession({ customSessionId: 'compat-reuse' });
    await first.close();
    const again = await stack.createSession({ customSessionId: 'compat-reuse' });
    assert.equal(again.sessionId, 'compat-reuse');
    await again.fetch();
    assert.equal(again.connections.length, 0);
  });
});

describe('tokens built from a configured public URL', () => {
  let stack;
  before(async () => {
    stack = await startStack({ extraArgs: ['--public-url', 'https://media.example.test:4443/'] });
  });
  after(async () => {
    if (stack) await stack.stop();
  });

  it('https public URL -> wss token without the trailing slash, which openvidu-browser parses', async () => {
    const session = await stack.createSession();
    const connection = await session.createConnection({ data: 'x' });
    const { origin, params } = tokenParts(connection.token);
    assert.equal(origin, 'wss://media.example.test:4443');
    assert.equal(params.sessionId, session.sessionId);
    assert.match(params.token, TOKEN_ID);

    // Parsed exactly as Session.connect() does (Session.getTokenParams); nothing is dialed.
    const parsed = stack.browser('parser').session.getTokenParams(connection.token);
    assert.equal(parsed.wsUri, 'wss://media.example.test:4443/openvidu');
    assert.equal(parsed.sessionId, session.sessionId);
    assert.equal(parsed.edition, undefined);
    assert.equal(parsed.secret, undefined);
  });
});

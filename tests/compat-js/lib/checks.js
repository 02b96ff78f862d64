'use strict';
// End-of-file checks on what the browser clients did that no session event shows.

const { socketStats } = require('./browser');

// What openvidu-browser only logs when the server's messages do not fit its state: a second
// participantJoined for a known id, participantLeft/sendMessage for an id it does not know, a
// notification method it does not handle, a frame it cannot parse or a response it did not ask for,
// a server version it rejects. (Session.ts onParticipantJoined/getRemoteConnection/onNewMessage/
// processJoinRoomResponse; kurento-jsonrpc clients/jsonrpcclient.js and index.js decode.)
const PROTOCOL_TROUBLE = [
  /already exists in connections list/,
  /unknown when '/,
  /versions are incompatible/,
  /does not match openvidu-server version/,
  /not registered in client/,
  /Exception processing request/,
  /Response already processed/,
  /No callback was defined for this message/,
  /Invalid JsonRPC version|Both result and error are defined|No result or error is defined|Invalid message/,
  /SyntaxError/,
];

/** The log lines that show protocol trouble. */
function protocolTrouble(lines) {
  return lines.filter((line) => PROTOCOL_TROUBLE.some((pattern) => pattern.test(line)));
}

// A test file whose clients are all closed exits on its own. If it is still alive a while after
// the last teardown and a client has dialed since, openvidu-browser is stuck in its redial loop
// (it follows an 'error' on a redialed socket, e.g. from a close without closing handshake, even
// after the app closed the session): report it and end the process instead of hanging.
const REDIAL_LOOP_CHECK_MS = 4000;
let redialGuard;

/** Call after the last teardown; `busyAgain()` says whether a new stack started since. */
function armRedialLoopGuard(busyAgain) {
  const dialsAtTeardown = socketStats.dials;
  clearTimeout(redialGuard);
  redialGuard = setTimeout(() => {
    if (busyAgain() || socketStats.dials === dialsAtTeardown) return;
    process.stderr.write(
      `compat-js: ${socketStats.dials - dialsAtTeardown} WebSocket dial(s) after teardown: an openvidu-browser ` +
        'client is stuck redialing (see webSocketWithReconnection.js reconnectAux); failing this file\n',
    );
    process.exit(1);
  }, REDIAL_LOOP_CHECK_MS).unref();
}

module.exports = { protocolTrouble, armRedialLoopGuard };

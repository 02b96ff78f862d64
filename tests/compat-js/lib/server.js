'use strict';
// Starts one otc-server process on 127.0.0.1:0 with short test timers and stops it.

const { spawn } = require('node:child_process');
const path = require('node:path');
const crypto = require('node:crypto');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEFAULT_BINARY = path.join(REPO_ROOT, 'target', 'debug', 'otc-server');
const LISTEN_LINE = /^otc-server listening on (http:\/\/127\.0\.0\.1:(\d+))\s*$/;
const START_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 5000;

/**
 * Timer flags for tests (names as in `otc-server --help`). resumeGraceMs: how long a participant
 * whose socket dropped is kept for a resume (--reconnect-grace-ms).
 */
function timerArgs({ resumeGraceMs }) {
  const args = [];
  if (resumeGraceMs != null) args.push('--reconnect-grace-ms', String(resumeGraceMs));
  return args;
}

/**
 * A running otc-server. `httpUrl` is the REST/WebSocket origin, `secret` the OPENVIDU_SECRET.
 */
class ServerProcess {
  constructor(child, httpUrl, port, secret, output) {
    this.child = child;
    this.httpUrl = httpUrl;
    this.port = port;
    this.secret = secret;
    this.output = output;
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  }

  /** Everything the server printed so far (stdout + stderr), for failure messages. */
  log() {
    return this.output.join('');
  }

  /** SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_MS. Idempotent. */
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL at once (a crash, as the clients see it). */
  async kill() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * Spawns the server and resolves once it printed its listening line.
 * options: { secret, resumeGraceMs, extraArgs }
 */
function startServer(options = {}) {
  const secret = options.secret ?? 'compat-' + crypto.randomBytes(6).toString('hex');
  const binary = process.env.OTC_SERVER_BIN || DEFAULT_BINARY;
  const args = ['--listen', '127.0.0.1:0', ...timerArgs(options), ...(options.extraArgs ?? [])];
  const child = spawn(binary, args, {
    env: { ...process.env, OPENVIDU_SECRET: secret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = [];
  return new Promise((resolve, reject) => {
    let stdoutBuffer = '';
    let settled = false;
    const fail = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new Error(`otc-server printed no listening line within ${START_TIMEOUT_MS} ms:\n${output.join('')}`)),
      START_TIMEOUT_MS,
    );
    child.on('error', (error) => fail(new Error(`cannot start ${binary}: ${error.message}`)));
    child.on('exit', (code, signal) =>
      fail(new Error(`otc-server exited (code ${code}, signal ${signal}) before listening:\n${output.join('')}`)),
    );
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      output.push(chunk);
      if (process.env.OTC_COMPAT_SERVER_LOG) process.stderr.write(chunk);
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      output.push(chunk);
      if (process.env.OTC_COMPAT_SERVER_LOG) process.stderr.write(chunk);
      if (settled) return;
      stdoutBuffer += chunk;
      const newline = stdoutBuffer.indexOf('\n');
      if (newline < 0) return;
      const firstLine = stdoutBuffer.slice(0, newline);
      const match = LISTEN_LINE.exec(firstLine);
      if (!match) {
        fail(new Error(`unexpected first stdout line from otc-server: ${JSON.stringify(firstLine)}`));
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(new ServerProcess(child, match[1], Number(match[2]), secret, output));
    });
  });
}

module.exports = { startServer, ServerProcess };

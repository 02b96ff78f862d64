'use strict';
// Small waiting helpers: every wait is bounded and names what it waited for.

/** Rejects with a named error if `promise` has not settled within `ms`. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms`. */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` (sync or async) every `everyMs` until truthy; rejects after `ms`. */
async function waitUntil(condition, ms, what, everyMs = 50) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`${what}: not true within ${ms} ms`);
    await sleep(everyMs);
  }
}

module.exports = { withTimeout, sleep, waitUntil };

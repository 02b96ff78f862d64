// Load driver for the Socket.IO peer, the same jobs as otc-bench's raw clients.
//   node driver.js s1 PORT N            join storm at N/s (sockets connected beforehand)
//   node driver.js s3 PORT M RATE MS P  fan-out: P publishers, RATE signals/s for MS ms
// Prints "ready" once set up, waits for a line on stdin, runs, prints one JSON line of results.
"use strict";
const { io } = require("socket.io-client");
const readline = require("readline");

const [scenario, port, sizeArg, rateArg, msArg, publishersArg] = process.argv.slice(2);
const url = `http://127.0.0.1:${port}`;
const size = Number(sizeArg);
if (!["s1", "s3"].includes(scenario) || !(size >= 2) || !(Number(port) > 0)) {
  console.error("usage: driver.js s1 PORT N | driver.js s3 PORT M RATE MS PUBLISHERS");
  process.exit(2);
}

const now = () => performance.now();
function quantile(sorted, q) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
function fail(message) {
  console.error(`driver: ${message}`);
  process.exit(1);
}
function connectAll(count) {
  return Promise.all(Array.from({ length: count }, () => new Promise((resolve, reject) => {
    const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 60000 });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (e) => reject(e));
  })));
}
function waitForGo() {
  console.log("ready");
  return new Promise((resolve) => readline.createInterface({ input: process.stdin }).once("line", resolve));
}
const sleepUntil = (t) => new Promise((resolve) => setTimeout(resolve, Math.max(0, t - now())));

async function joinStorm() {
  const sockets = await connectAll(size);
  const joinSent = new Array(size).fill(0);
  const known = new Array(size).fill(0);
  const latencies = [];
  let complete = 0, completeAt = 0, entries = 0;
  const learned = (i, n) => {
    entries += n;
    known[i] += n;
    if (known[i] === size - 1 && ++complete === size) completeAt = now();
  };
  sockets.forEach((socket, i) => socket.on("participantJoined", ({ id }) => {
    latencies.push(now() - joinSent[Number(id)]);
    learned(i, 1);
  }));
  await waitForGo();
  const start = now() + 20;
  for (let i = 0; i < size; i++) {
    await sleepUntil(start + (i * 1000) / size);
    joinSent[i] = now();
    sockets[i].emit("join", { room: "s1", id: String(i) }, (answer) => learned(i, answer.value.length));
  }
  const deadline = now() + 30000 + size * 10;
  while (complete < size && now() < deadline) await sleepUntil(now() + 10);
  if (complete < size) fail(`only ${complete} of ${size} rosters complete`);
  latencies.sort((a, b) => a - b);
  const firstJoin = Math.min(...joinSent), lastJoin = Math.max(...joinSent);
  sockets.forEach((s) => s.close());
  return { p99_ms: quantile(latencies, 0.99), complete_after_last_s: (completeAt - lastJoin) / 1000,
           entries_per_s: entries / ((completeAt - firstJoin) / 1000) };
}

async function fanOut() {
  const rate = Number(rateArg), durationMs = Number(msArg), publishers = Math.max(1, Math.min(size, Number(publishersArg)));
  if (!(rate > 0) || !(durationMs > 0)) fail("s3 needs RATE and MS");
  const sockets = await connectAll(size);
  await Promise.all(sockets.map((s, i) => new Promise((resolve) => s.emit("join", { room: "s3", id: String(i) }, resolve))));
  const nextSeq = new Array(size * publishers).fill(0);
  const latencies = [];
  let delivered = 0, violations = 0, lastDelivery = 0;
  sockets.forEach((socket, i) => socket.on("signal", ({ data }) => {
    const [publisher, seq, sent] = data.split(",").map(Number);
    const t = now();
    latencies.push(t - sent);
    delivered++;
    lastDelivery = t;
    const slot = i * publishers + publisher;
    if (seq < nextSeq[slot]) violations++; else nextSeq[slot] = seq + 1;
  }));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await waitForGo();
  const signals = Math.round((rate * durationMs) / 1000);
  const expected = signals * size;
  const start = now() + 20;
  for (let k = 0; k < signals; k++) {
    const scheduled = start + (k * 1000) / rate;
    await sleepUntil(scheduled);
    const publisher = k % publishers;
    sockets[publisher].emit("signal", { data: `${publisher},${Math.floor(k / publishers)},${scheduled}`, type: "signal:bench" });
  }
  let lastCount = -1, lastChange = now();
  while (delivered < expected && now() - lastChange < 3000) {
    if (delivered !== lastCount) { lastCount = delivered; lastChange = now(); }
    await sleepUntil(now() + 10);
  }
  latencies.sort((a, b) => a - b);
  sockets.forEach((s) => s.close());
  return { delivered, expected, deliveries_per_s: delivered / ((lastDelivery - start) / 1000), violations,
           p50_ms: quantile(latencies, 0.5), p99_ms: quantile(latencies, 0.99), p999_ms: quantile(latencies, 0.999) };
}

(scenario === "s1" ? joinStorm() : fanOut())
  .then((result) => { console.log(JSON.stringify(result)); process.exit(0); })
  .catch((e) => fail(e && e.message ? e.message : String(e)));

// A queue consumer in Node.js, following the null-worker contract: wait until this worker
// is reserved, do one unit of work, release. Replace doWork() with your queue client:
// claim one job, run it, ack it. Needs Node 18+ (built-in fetch); no npm packages.
"use strict";

const control = `http://127.0.0.1:${process.env.NULL_CONTROL_PORT || "18999"}`;
const workMs = Number(process.env.WORK_SECONDS || "1") * 1000;
let stopping = false;

process.on("SIGTERM", () => {
  stopping = true; // finish the current job, then exit
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForReservation() {
  const response = await fetch(`${control}/session?wait=30`);
  return response.status === 200 ? response.json() : null;
}

async function doWork(reservation) {
  console.log(`node consumer: working on reservation ${reservation.id}`);
  await sleep(workMs);
}

async function main() {
  while (!stopping) {
    let reservation = null;
    try {
      reservation = await waitForReservation();
    } catch (error) {
      await sleep(1000); // the worker is still starting
      continue;
    }
    if (reservation === null) continue;
    await doWork(reservation);
    // With ?id=, a reservation made after this one expired is left to the next job (409).
    const url = `${control}/release?id=${encodeURIComponent(reservation.id)}`;
    const answer = await (await fetch(url, { method: "POST" })).json();
    console.log(answer.released ? `node consumer: released ${answer.released}`
                                : `node consumer: ${reservation.id} had already ended`);
  }
}

main();

/**
 * The reactor under supervise and svscan (lib/reactor.ts): one epoll set for every descriptor,
 * waited on in one pool thread, and its timers.
 */
import { assert, assertEquals } from "./assert.ts";
import { O_CLOEXEC, O_NONBLOCK } from "../lib/libc.ts";
import { addr, NR, sys } from "../lib/sys.ts";
import { Reactor } from "../lib/reactor.ts";
import { waitFor } from "./util.ts";

/** A pipe watched by `r` whose callback drains it and calls `seen`; returns [read, write]. */
function watchedPipe(r: Reactor, seen: () => void): [number, number] {
  const fds = new Int32Array(2);
  assertEquals(sys(NR.pipe2, addr(fds), O_NONBLOCK | O_CLOEXEC), 0);
  const buf = new Uint8Array(16);
  assertEquals(
    r.watch(fds[0], () => {
      while (sys(NR.read, fds[0], addr(buf), 16) > 0) { /* drain */ }
      seen();
    }),
    0,
  );
  return [fds[0], fds[1]];
}

/** Unwatch and close `pipes` made by {@linkcode watchedPipe}. */
function dropPipes(r: Reactor, pipes: [number, number][]): void {
  for (const [rd, wr] of pipes) {
    r.unwatch(rd);
    sys(NR.close, rd);
    sys(NR.close, wr);
  }
}

Deno.test("reactor: 1200 pipes in one epoll set, only the written ones fire, threads bounded", async () => {
  const threads = () => [...Deno.readDirSync("/proc/self/task")].length;
  const r = new Reactor();
  const pipes: [number, number][] = [];
  const fired = new Map<number, number>();
  try {
    const before = threads();
    for (let i = 0; i < 1200; i++) {
      pipes.push(watchedPipe(r, () => fired.set(i, (fired.get(i) ?? 0) + 1)));
    }
    assertEquals(r.size, 1200);
    const chosen = [0, 1, 7, 599, 600, 1000, 1199];
    for (const i of chosen) sys(NR.write, pipes[i][1], addr(new Uint8Array([120])), 1);
    await waitFor("callbacks", () => chosen.every((i) => fired.has(i)));
    // one more round after the batch: nothing else fires, nothing fires twice
    sys(NR.write, pipes[5][1], addr(new Uint8Array([120])), 1);
    await waitFor("pipe 5", () => fired.has(5));
    assertEquals([...fired.keys()].sort((a, b) => a - b), [...chosen, 5].sort((a, b) => a - b));
    assert([...fired.values()].every((n) => n === 1));
    // the whole set waits in one pool thread: no thread per descriptor
    assert(threads() - before <= 2, `threads ${before} -> ${threads()}`);
  } finally {
    dropPipes(r, pipes);
    await r.idle();
    r.close();
  }
});

Deno.test("reactor: timers fire in deadline order, cancelled ones never", async () => {
  const r = new Reactor();
  const order: string[] = [];
  const t = performance.now();
  r.at(t + 30, () => order.push("c"));
  r.at(t + 10, () => order.push("a"));
  const x = r.at(t + 5, () => order.push("x"));
  r.at(t + 20, () => order.push("b"));
  r.at(t + 20, () => order.push("b2"));
  x.cancel();
  await waitFor("timers", () => order.length === 4);
  assertEquals(order, ["a", "b", "b2", "c"]);
  r.close();
});

Deno.test("reactor: soon() turns come after what is ready at the next poll; timers still fire while they go on", async () => {
  const r = new Reactor();
  let turns = 0;
  let otherAt = -1;
  let timerAt = -1;
  const [rd, wr] = watchedPipe(r, () => otherAt = turns);
  try {
    // a chain of turns, each queueing the next (a lossless logger with input left), until the
    // timer has fired and 20 turns ran; the 10th makes the pipe ready: its callback runs before
    // the 11th turn
    const turn = () => {
      turns++;
      if (turns === 10) sys(NR.write, wr, addr(new Uint8Array([120])), 1);
      if ((timerAt < 0 || turns < 20) && turns < 1_000_000) r.soon(turn);
    };
    r.at(performance.now() + 20, () => timerAt = turns);
    r.soon(turn);
    await waitFor("the timer and 20 turns", () => timerAt >= 0 && turns >= 20, 10000);
    assertEquals(otherAt, 10);
    // the runtime's event loop got its turns while the chain ran (the timer is a setTimeout)
    assert(timerAt < 1_000_000, `timer after ${timerAt} turns`);
  } finally {
    dropPipes(r, [[rd, wr]]);
    await r.idle();
    r.close();
  }
});

Deno.test("reactor: soon() from outside the loop wakes a waiting epoll_wait; with nothing watched it is a timer", async () => {
  const r = new Reactor();
  const pipe = watchedPipe(r, () => {});
  try {
    // the loop now waits in the pool thread with nothing ready
    await new Promise((ok) => setTimeout(ok, 20));
    let ran = 0;
    r.soon(() => ran++);
    await waitFor("soon while waiting", () => ran === 1, 5000);
  } finally {
    dropPipes(r, [pipe]);
    await r.idle();
  }
  let ran = 0;
  r.soon(() => ran++);
  await waitFor("soon with nothing watched", () => ran === 1, 5000);
  r.close();
});

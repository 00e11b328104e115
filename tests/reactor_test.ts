/**
 * The reactor under supervise and svscan (lib/reactor.ts): one epoll set for every descriptor,
 * waited on in one pool thread, and its timers.
 */
import { assert, assertEquals } from "./assert.ts";
import { O_CLOEXEC, O_NONBLOCK } from "../lib/libc.ts";
import { addr, NR, sys } from "../lib/sys.ts";
import { Reactor } from "../lib/reactor.ts";
import { waitFor } from "./util.ts";

Deno.test("reactor: 1200 pipes in one epoll set, only the written ones fire, threads bounded", async () => {
  const threads = () => [...Deno.readDirSync("/proc/self/task")].length;
  const r = new Reactor();
  const pipes: [number, number][] = [];
  const fired = new Map<number, number>();
  const buf = new Uint8Array(16);
  try {
    const before = threads();
    for (let i = 0; i < 1200; i++) {
      const fds = new Int32Array(2);
      assertEquals(sys(NR.pipe2, addr(fds), O_NONBLOCK | O_CLOEXEC), 0);
      pipes.push([fds[0], fds[1]]);
      assertEquals(
        r.watch(fds[0], () => {
          while (sys(NR.read, fds[0], addr(buf), 16) > 0) { /* drain */ }
          fired.set(i, (fired.get(i) ?? 0) + 1);
        }),
        0,
      );
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
    for (const [rd, wr] of pipes) {
      r.unwatch(rd);
      sys(NR.close, rd);
      sys(NR.close, wr);
    }
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

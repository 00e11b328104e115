/**
 * The supervise state machine (lib/supervisor.ts) driven event by event with a fake clock:
 * no processes, no files. Expected action sequences follow 0.76's src/supervise.c.
 */
import { assert, assertEquals } from "./assert.ts";
import { type Action, type Clock, Machine, SIG } from "../lib/supervisor.ts";
import { decodeStatus } from "../lib/status.ts";
import type { Tai64n } from "../lib/tai64n.ts";

class FakeClock implements Clock {
  t = 5000;
  sec = 0x4000000060000000n;
  mono(): number {
    return this.t;
  }
  stamp(): Tai64n {
    return { sec: this.sec + BigInt(Math.floor(this.t / 1000)), nano: (this.t % 1000) * 1e6 + 500 };
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Compact text of actions: "status:PID:PAUSED:WANT", "kill:PID:SIG", "spawn", ... */
function show(actions: Action[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case "status": {
        const s = decodeStatus(a.bytes)!;
        const want = s.wantByte === 0 ? "0" : String.fromCharCode(s.wantByte);
        return `status:${s.pid}:${s.pausedByte}:${want}`;
      }
      case "kill":
        return `kill:${a.pid}:${a.signal}`;
      case "timer":
        return `timer:${a.at ?? "off"}`;
      case "warn":
        return `warn:${a.text}`;
      default:
        return a.type;
    }
  });
}

const ch = (c: string) => c.charCodeAt(0);

/** A machine with a down file, booted and at its loop: nothing started. */
function downMachine(clock = new FakeClock()): Machine {
  const m = new Machine("svc", false, clock);
  m.boot();
  m.run();
  return m;
}

function upMachine(clock = new FakeClock(), pid = 100): { m: Machine; clock: FakeClock } {
  const m = new Machine("svc", true, clock);
  m.boot();
  m.run();
  m.spawned(pid);
  return { m, clock };
}

Deno.test("boot writes pid 0, run starts ./run when no down file", () => {
  const clock = new FakeClock();
  const m = new Machine("svc", true, clock);
  assertEquals(show(m.boot()), ["status:0:0:u"]);
  assertEquals(show(m.run()), ["spawn"]);
  clock.advance(3);
  const a = m.spawned(4242);
  assertEquals(show(a), ["status:4242:0:u"]);
  const s = decodeStatus((a[0] as { bytes: Uint8Array }).bytes)!;
  assertEquals(s.stamp, clock.stamp());
  assertEquals(m.pid, 4242);
});

Deno.test("down file: want down, nothing started, status written at loop entry", () => {
  const m = new Machine("svc", false, new FakeClock());
  assertEquals(show(m.boot()), ["status:0:0:d"]);
  assertEquals(show(m.run()), ["status:0:0:d"]);
  assertEquals(m.pid, 0);
});

Deno.test("status stamp changes on pid changes only", () => {
  const { m, clock } = upMachine();
  const before = m.state.stamp;
  clock.advance(2500);
  m.control(ch("p"));
  m.control(ch("c"));
  m.control(ch("u"));
  assertEquals(m.state.stamp, before);
  m.exited(100);
  assertEquals(m.state.stamp, clock.stamp());
});

Deno.test("exit after more than 1 s restarts at once; exit status is not an input", () => {
  const { m, clock } = upMachine();
  clock.advance(1500);
  assertEquals(show(m.exited(100)), ["status:0:0:u", "spawn"]);
  assertEquals(show(m.spawned(101)), ["status:101:0:u"]);
});

Deno.test("starts stay >= 1 s apart: a quick exit is reported at the second, then restart", () => {
  const { m, clock } = upMachine();
  const started = clock.t;
  clock.advance(100);
  // 0.76 reaps only after its one-second sleep: the pid stays in the status meanwhile
  assertEquals(show(m.exited(100)), [`timer:${started + 1000}`]);
  assert(m.state.exitPending);
  assertEquals(m.pid, 100);
  // no signal goes to a reaped pid; status writes still show it
  assertEquals(show(m.control(ch("t"))), []);
  assertEquals(show(m.control(ch("p"))), ["status:100:1:u"]);
  clock.advance(900);
  assertEquals(show(m.timer()), ["status:0:0:u", "spawn"]);
  assertEquals(show(m.spawned(101)), ["status:101:0:u"]);
});

Deno.test("x during the second after a start: exit once the quick exit is reported", () => {
  const { m, clock } = upMachine();
  clock.advance(10);
  m.exited(100);
  assertEquals(show(m.control(ch("x"))), ["status:100:0:u"]);
  clock.advance(990);
  assertEquals(show(m.timer()), ["status:0:0:u", "status:0:0:u", "exit"]);
});

Deno.test("a reaped pid that is not ours is ignored", () => {
  const { m } = upMachine();
  assertEquals(m.exited(999), []);
  assertEquals(m.pid, 100);
});

Deno.test("d: TERM then CONT, paused cleared, want down, no restart", () => {
  const { m, clock } = upMachine();
  m.control(ch("p"));
  assertEquals(show(m.control(ch("d"))), ["kill:100:15", "kill:100:18", "status:100:0:d"]);
  clock.advance(2000);
  assertEquals(show(m.exited(100)), ["status:0:0:d"]);
  assertEquals(m.pid, 0);
});

Deno.test("u while down starts; u while up only writes status", () => {
  const m = downMachine();
  assertEquals(show(m.control(ch("u"))), ["status:0:0:u", "spawn"]);
  m.spawned(7);
  assertEquals(show(m.control(ch("u"))), ["status:7:0:u"]);
});

Deno.test("o: want 0, started once, not restarted", () => {
  const clock = new FakeClock();
  const m = downMachine(clock);
  assertEquals(show(m.control(ch("o"))), ["status:0:0:0", "spawn"]);
  m.spawned(8);
  clock.advance(5000);
  assertEquals(show(m.exited(8)), ["status:0:0:0"]);
  assertEquals(m.pid, 0);
});

Deno.test("p and c: status then STOP/CONT; paused shows only while up", () => {
  const { m } = upMachine();
  assertEquals(show(m.control(ch("p"))), ["status:100:1:u", "kill:100:19"]);
  assertEquals(show(m.control(ch("c"))), ["status:100:0:u", "kill:100:18"]);
  const d = downMachine();
  assertEquals(show(d.control(ch("p"))), ["status:0:0:d"]);
  assert(d.state.paused);
  // a start clears the paused flag
  d.control(ch("u"));
  assertEquals(show(d.spawned(9)), ["status:9:0:u"]);
});

Deno.test("h a i t k: one signal each, no status, nothing when down", () => {
  const { m } = upMachine();
  const sigs: Record<string, number> = {
    h: SIG.HUP,
    a: SIG.ALRM,
    i: SIG.INT,
    t: SIG.TERM,
    k: SIG.KILL,
  };
  for (const [c, sig] of Object.entries(sigs)) {
    assertEquals(show(m.control(ch(c))), [`kill:100:${sig}`]);
  }
  const d = downMachine();
  for (const c of Object.keys(sigs)) assertEquals(d.control(ch(c)), []);
});

Deno.test("unknown bytes are ignored", () => {
  const { m } = upMachine();
  for (const c of "zZ?\n\0QvwUDX \xff") assertEquals(m.control(ch(c)), []);
  assertEquals(m.pid, 100);
});

Deno.test("x while down: status, then final status and exit", () => {
  const m = downMachine();
  assertEquals(show(m.control(ch("x"))), ["status:0:0:d", "status:0:0:d", "exit"]);
  assert(m.finished);
  assertEquals(m.control(ch("u")), []);
});

Deno.test("x while up: wait for the child, do not restart, then exit", () => {
  const { m, clock } = upMachine();
  assertEquals(show(m.control(ch("x"))), ["status:100:0:u"]);
  assert(!m.finished);
  clock.advance(3000);
  assertEquals(show(m.exited(100)), ["status:0:0:u", "status:0:0:u", "exit"]);
  assert(m.finished);
});

Deno.test("dx: TERM+CONT, and exit once the child is gone", () => {
  const { m, clock } = upMachine();
  m.control(ch("d"));
  m.control(ch("x"));
  clock.advance(1000);
  assertEquals(show(m.exited(100)), ["status:0:0:d", "status:0:0:d", "exit"]);
});

Deno.test("exec failure counts as a start that exited at once: retried a second later", () => {
  const clock = new FakeClock();
  const m = new Machine("svc", true, clock);
  m.boot();
  assertEquals(show(m.run()), ["spawn"]);
  const first = clock.t;
  assertEquals(show(m.spawnFailed(false, "file does not exist")), [
    "status:0:0:u",
    "status:0:0:u",
    `timer:${first + 1000}`,
  ]);
  clock.advance(1000);
  assertEquals(show(m.timer()), ["spawn"]);
  // once: an exec failure is not retried
  const o = downMachine(clock);
  o.control(ch("o"));
  assertEquals(show(o.spawnFailed(false, "access denied")), ["status:0:0:0", "status:0:0:0"]);
});

Deno.test("fork failure: warning, no status write, retry 60 s later", () => {
  const clock = new FakeClock();
  const m = new Machine("web", true, clock);
  m.boot();
  m.run();
  const t0 = clock.t;
  assertEquals(show(m.spawnFailed(true, "temporary failure")), [
    "warn:unable to fork for web, sleeping 60 seconds: temporary failure",
    `timer:${t0 + 60000}`,
  ]);
  clock.advance(30000);
  assertEquals(m.control(ch("u")).length, 1); // status only, still waiting
  clock.advance(30000);
  assertEquals(show(m.timer()), ["spawn"]);
});

Deno.test("d or x cancel a start that waits for the throttle", () => {
  const clock = new FakeClock();
  const m = new Machine("svc", true, clock);
  m.boot();
  m.run();
  clock.advance(10);
  m.spawnFailed(false, "file does not exist");
  assert(m.state.startPending);
  assertEquals(show(m.control(ch("d"))), ["timer:off", "status:0:0:d"]);
  assertEquals(m.timer(), []);
  m.control(ch("u"));
  assert(m.state.startPending);
  assertEquals(show(m.control(ch("x"))), [
    "timer:off",
    "status:0:0:u",
    "status:0:0:u",
    "exit",
  ]);
});

Deno.test("an adopted process is reported at once however young", () => {
  const clock = new FakeClock();
  const m = new Machine("svc", true, clock);
  m.boot();
  m.run(55);
  clock.advance(5);
  assertEquals(show(m.exited(55)), ["status:0:0:u", "spawn"]);
});

Deno.test("adopt: the running pid and its stamp are kept, nothing spawned", () => {
  const clock = new FakeClock();
  const m = new Machine("svc", true, clock);
  m.boot();
  const old = { sec: 0x4000000050000000n, nano: 500 };
  const a = m.run(321, old, true);
  assertEquals(show(a), ["status:321:1:u"]);
  assertEquals(decodeStatus((a[0] as { bytes: Uint8Array }).bytes)!.stamp, old);
  clock.advance(5000);
  assertEquals(show(m.exited(321)), ["status:0:0:u", "spawn"]);
});

// ------------------------------------------------------------------ lifecycle files (issue 10)

import { type Lifecycle, PLAIN } from "../lib/lifecycle.ts";
import { decodeExtra } from "../lib/extra_status.ts";

function cfg(over: Partial<Lifecycle>): Lifecycle {
  return { ...PLAIN, ...over };
}

/** The extra file's content in an action list, as "ready:PID" / "finish:PID" words. */
function extraOf(actions: Action[]): string[] {
  return actions.filter((a) => a.type === "extra").map((a) => {
    const e = decodeExtra((a as { bytes: Uint8Array }).bytes);
    return [e.ready ? `ready:${e.ready.pid}` : "", e.finish ? `finish:${e.finish.pid}` : ""]
      .filter(Boolean).join(",") || "none";
  });
}

Deno.test("lifecycle: without lifecycle files no extra, deadline or finish action ever appears", () => {
  const { m, clock } = upMachine();
  const all: Action[] = [];
  all.push(...m.ready(100), ...m.control(ch("d")));
  clock.advance(2000);
  all.push(...m.exited(100, 0), ...m.control(ch("u")));
  assert(!all.some((a) => ["extra", "deadline", "finish"].includes(a.type)), show(all).join(" "));
});

Deno.test("lifecycle: readiness marks the running pid ready once; its exit ends it", () => {
  const clock = new FakeClock();
  const m = new Machine("svc", true, clock);
  m.configure(cfg({ notifyFd: 3 }));
  assertEquals(extraOf(m.boot()), ["none"]);
  m.run();
  m.spawned(100);
  assertEquals(m.ready(99), []); // not the running pid
  assertEquals(extraOf(m.ready(100)), ["ready:100"]);
  assertEquals(m.ready(100), []); // a second line changes nothing
  assert(m.state.ready !== undefined);
  clock.advance(2000);
  assertEquals(extraOf(m.exited(100, 0)), ["none"]);
  assertEquals(m.state.ready, undefined);
});

Deno.test("lifecycle: down-signal replaces TERM, CONT follows; timeout-kill KILLs the group later", () => {
  const { m, clock } = upMachine();
  m.configure(cfg({ downSignal: SIG.HUP, timeoutKill: 200 }));
  assertEquals(
    show(m.control(ch("d"))),
    [
      `kill:100:${SIG.HUP}`,
      `kill:100:${SIG.CONT}`,
      `deadline:${clock.t + 200}`,
      "status:100:0:d",
    ].map((s) => s.startsWith("deadline") ? "deadline" : s),
  );
  clock.advance(200);
  const k = m.deadline();
  assertEquals(k, [{ type: "kill", pid: 100, signal: SIG.KILL, group: true }]);
  clock.advance(2000);
  const out = m.exited(100, 9);
  assert(out.some((a) => a.type === "deadline" && a.at === undefined) === false);
  assertEquals(show(out), ["status:0:0:d"]);
});

Deno.test("lifecycle: the process ending before timeout-kill cancels the KILL", () => {
  const { m, clock } = upMachine();
  m.configure(cfg({ timeoutKill: 5000 }));
  m.control(ch("d"));
  clock.advance(1500);
  const out = m.exited(100, 0);
  assert(out.some((a) => a.type === "deadline" && a.at === undefined), show(out).join(" "));
  assertEquals(m.deadline(), []);
});

Deno.test("lifecycle: finish runs after run with its exit code and signal; the restart waits for it", () => {
  const { m, clock } = upMachine();
  m.configure(cfg({ finish: true }));
  clock.advance(3000);
  const out = m.exited(100, 15);
  assertEquals(out, [{ type: "finish", code: 256, signal: 15 }]);
  const sp = m.finishSpawned(200);
  assertEquals(extraOf(sp), ["finish:200"]);
  // extra first, then the status shows down: a reader never sees down without finish
  assertEquals(show(sp).filter((a) => a !== "deadline"), ["extra", "status:0:0:u"]);
  assert(sp.some((a) => a.type === "deadline" && a.at === clock.t + 5000));
  assertEquals(m.control(ch("u")).filter((a) => a.type === "spawn"), []); // not while finishing
  clock.advance(100);
  const end = m.finishExited(200, 0);
  assertEquals(extraOf(end), ["none"]);
  assertEquals(end.at(-1), { type: "spawn" });
});

Deno.test("lifecycle: finish exiting 125 means want down: no restart until svc -u", () => {
  const { m, clock } = upMachine();
  m.configure(cfg({ finish: true }));
  clock.advance(3000);
  m.exited(100, 1 << 8);
  m.finishSpawned(200);
  const end = m.finishExited(200, 125);
  assertEquals(show(end), ["deadline", "status:0:0:d", "extra"]);
  assertEquals(m.state.want, "d");
  assertEquals(m.control(ch("u")).at(-1), { type: "spawn" });
});

Deno.test("lifecycle: a hanging finish is KILLed at timeout-finish; x waits for it", () => {
  const { m, clock } = upMachine();
  m.configure(cfg({ finish: true, timeoutFinish: 300 }));
  clock.advance(3000);
  m.exited(100, 0);
  m.finishSpawned(200);
  assertEquals(show(m.control(ch("x"))), ["status:0:0:u"]); // no exit yet
  clock.advance(300);
  assertEquals(m.deadline(), [{ type: "kill", pid: 200, signal: SIG.KILL, group: true }]);
  const end = m.finishExited(200, 256);
  assert(end.some((a) => a.type === "exit"), show(end).join(" "));
});

Deno.test("lifecycle: a finish that cannot start lets the service restart as usual", () => {
  const { m, clock } = upMachine();
  m.configure(cfg({ finish: true }));
  clock.advance(3000);
  m.exited(100, 0);
  assertEquals(m.finishFailed().at(-1), { type: "spawn" });
});

Deno.test("lifecycle: restart-backoff doubles the pause after short runs up to the maximum", () => {
  const { m, clock } = upMachine();
  m.configure(cfg({ backoffMax: 5000 }));
  const pauses: number[] = [];
  let pid = 100;
  for (let i = 0; i < 5; i++) {
    const start = m.state.lastStart!;
    clock.advance(300); // a run of 0.3 s, reported when its first second is over
    m.exited(pid, 1 << 8);
    clock.t = start + 1000;
    let out = m.timer();
    pauses.push(m.state.backoff);
    if (out.at(-1)?.type !== "spawn") {
      assertEquals(out.at(-1)?.type, "timer");
      clock.t = start + m.state.backoff - 1;
      // an early wake-up starts nothing: it sets the timer again
      assertEquals(m.timer(), [{ type: "timer", at: start + m.state.backoff }]);
      clock.t = start + m.state.backoff;
      out = m.timer();
    }
    assertEquals(out.at(-1), { type: "spawn" });
    m.spawned(++pid);
  }
  assertEquals(pauses, [1000, 2000, 4000, 5000, 5000]);
  // a run of a second or more resets it
  clock.advance(1500);
  m.exited(pid, 0);
  assertEquals(m.state.backoff, 0);
});

Deno.test("lifecycle: a ./run that cannot be executed is a short run: no finish, the back-off grows", () => {
  const clock = new FakeClock();
  const m = new Machine("svc", true, clock);
  m.configure(cfg({ backoffMax: 4000, finish: true }));
  m.boot();
  m.run();
  const starts: number[] = [];
  for (let i = 0; i < 4; i++) {
    starts.push(clock.t);
    const out = m.spawnFailed(false, "access denied");
    // as s6-supervise: ./finish is for a ./run that ran
    assert(!out.some((a) => a.type === "finish"), JSON.stringify(out));
    const timer = out.at(-1);
    assert(timer?.type === "timer", JSON.stringify(out));
    clock.t = timer.at!;
    assertEquals(m.timer().at(-1), { type: "spawn" });
  }
  assertEquals(starts.slice(1).map((t, i) => t - starts[i]), [1000, 2000, 4000]);
});

Deno.test("lifecycle: an adopted ready pid stays ready", () => {
  const clock = new FakeClock();
  const m = new Machine("svc", true, clock);
  m.configure(cfg({ notifyFd: 3 }));
  m.boot();
  const stamp = clock.stamp();
  const out = m.run(4242, stamp, false, stamp);
  assertEquals(extraOf(out), ["ready:4242"]);
  assertEquals(m.state.ready, stamp);
});

// ------------------------------------------------------------------ exit history

/** The history each status action of `actions` carries (undefined: unchanged). */
function histories(actions: Action[]) {
  return actions.filter((a) => a.type === "status").map((a) =>
    a.type === "status" ? a.history : undefined
  );
}

/** Unix seconds of the fake clock's stamp now. */
function unixNow(c: FakeClock): number {
  const t = c.stamp();
  return Number(t.sec - ((1n << 62n) + 10n)) + t.nano / 1e9;
}

Deno.test("history: a fresh machine starts at 0 starts and no exit, written with its first status", () => {
  const clock = new FakeClock();
  const m = new Machine("svc", true, clock);
  const since = unixNow(clock);
  assertEquals(histories(m.boot()), [{ since, starts: 0, lastExit: null, ready: null }]);
  assertEquals(show(m.run()), ["spawn"]);
  clock.advance(10);
  assertEquals(histories(m.spawned(100)), [{ since, starts: 1, lastExit: null, ready: null }]);
  // a change of state without a start or an exit leaves the history as it is
  assertEquals(histories(m.control(ch("p"))), [undefined]);
  assertEquals(m.state.history.starts, 1);
});

Deno.test("history: exit code, then a killing signal, each with its time; starts count up", () => {
  const { m, clock } = upMachine();
  clock.advance(5000);
  const t1 = unixNow(clock);
  const a = m.exited(100, 3 << 8); // exit 3
  assertEquals(show(a), ["status:0:0:u", "spawn"]);
  assertEquals(histories(a)[0]?.lastExit, { code: 3, signal: null, time: t1 });
  clock.advance(1);
  assertEquals(histories(m.spawned(101))[0]?.starts, 2);
  clock.advance(3000);
  const t2 = unixNow(clock);
  const b = m.exited(101, 9); // SIGKILL, no core
  assertEquals(histories(b)[0]?.lastExit, { code: null, signal: 9, time: t2 });
  clock.advance(1);
  m.spawned(102);
  clock.advance(3000);
  // a core dump flag (0x80) does not hide the signal
  assertEquals(histories(m.exited(102, 0x80 | 11))[0]?.lastExit?.signal, 11);
  assertEquals(m.state.history.starts, 3);
});

Deno.test("history: an exit within the start's second is dated when reaped, reported at the second", () => {
  const { m, clock } = upMachine();
  clock.advance(200);
  const t = unixNow(clock);
  const a = m.exited(100, 1 << 8);
  assertEquals(show(a), ["timer:6000"]);
  assertEquals(m.state.history.lastExit, null); // not reported yet: status still says up
  clock.advance(800);
  const b = m.timer();
  assertEquals(show(b), ["status:0:0:u", "spawn"]);
  assertEquals(histories(b)[0]?.lastExit, { code: 1, signal: null, time: t });
});

Deno.test("history: an exec failure is a start and an exit 111; a fork failure is neither", () => {
  const clock = new FakeClock();
  const m = new Machine("svc", true, clock);
  m.boot();
  m.run();
  const a = m.spawnFailed(false, "file does not exist");
  const h = histories(a);
  assertEquals(h.length, 2); // 0.76 writes the status twice: the history goes with the first
  assertEquals(h[0]?.starts, 1);
  assertEquals(h[0]?.lastExit, { code: 111, signal: null, time: unixNow(clock) });
  assertEquals(h[1], undefined);
  clock.advance(1000);
  m.timer();
  const b = m.spawnFailed(true, "out of memory");
  assertEquals(histories(b), []);
  assertEquals(m.state.history.starts, 1);
});

Deno.test("history: a stopped child's wait status is no exit (code and signal null)", () => {
  const { m, clock } = upMachine();
  clock.advance(5000);
  const a = m.exited(100, 0x137f);
  assertEquals(histories(a)[0]?.lastExit, { code: null, signal: null, time: unixNow(clock) });
});

Deno.test("history: adoption carries the old history on; the adopted exit has no code or signal", () => {
  const clock = new FakeClock();
  const m = new Machine("svc", true, clock);
  m.boot(); // not written by the driver when adopting
  const old = {
    since: 1000.5,
    starts: 7,
    lastExit: { code: 2, signal: null, time: 1500 },
    ready: null,
  };
  const a = m.run(4242, clock.stamp(), false, undefined, old);
  assertEquals(show(a), ["status:4242:0:u"]);
  assertEquals(histories(a), [old]);
  clock.advance(5000);
  const b = m.exited(4242);
  assertEquals(show(b), ["status:0:0:u", "spawn"]);
  assertEquals(histories(b)[0]?.lastExit, { code: null, signal: null, time: unixNow(clock) });
  assertEquals(histories(m.spawned(4300))[0]?.starts, 8);
});

Deno.test("history: adoption with a junk or missing history keeps this machine's fields", () => {
  for (
    const old of [
      undefined,
      { since: null, starts: null, lastExit: null, ready: null },
    ]
  ) {
    const clock = new FakeClock();
    const m = new Machine("svc", true, clock);
    const since = unixNow(clock);
    m.boot();
    clock.advance(100);
    const a = m.run(4242, undefined, false, undefined, old);
    assertEquals(histories(a), [{ since, starts: 0, lastExit: null, ready: null }]);
  }
});

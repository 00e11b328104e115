/**
 * Issue 10, with real processes: readiness (`notification-fd`), `svwait`, graceful stop
 * (`down-signal`, `timeout-kill`), `finish` (`timeout-finish`, exit 125), `restart-backoff`'s
 * input checks, svstat's readiness words; under standalone supervise and under svscan (with a
 * log service, across a SIGKILL of svscan). Bounded waits only, no timing assertions.
 */
import { assert, assertEquals } from "./assert.ts";
import { SLEEP, type Tree, tree } from "./fixtures.ts";
import { readHistory } from "../lib/history.ts";
import { withScan } from "./svscan_util.ts";
import {
  alive,
  okRunning,
  processesUnder,
  prog,
  readOr,
  readStatus,
  run,
  script,
  waitFor,
} from "./util.ts";

interface Sup {
  proc: Deno.ChildProcess;
  err: string;
}

/** `supervise DIR` in the tree, stderr to a file; stopped (svc -dx, then KILL) at the end. */
function supervise(t: Tree, dir: string): Sup {
  const err = t.path(`.${dir}.err`);
  const proc = t.spawn("sh", ["-c", `exec "$0" "$1" 2>"$2"`, prog("supervise"), dir, err]);
  return { proc, err };
}

/** Wait for `sup`'s first warning; it must be `supervise: warning: TEXT` and nothing else. */
async function warnsOnly(sup: Sup, text: string): Promise<void> {
  await waitFor("warning", () => readOr(sup.err).length > 0);
  assertEquals(readOr(sup.err), `supervise: warning: ${text}\n`);
}

async function svstat(t: Tree, ...dirs: string[]): Promise<string> {
  return (await run(prog("svstat"), dirs, { cwd: t.root })).stdout;
}

async function svwait(t: Tree, ...args: string[]) {
  return await run(prog("svwait"), args, { cwd: t.root });
}

async function svc(t: Tree, ...args: string[]) {
  await run(prog("svc"), args, { cwd: t.root });
}

/** Wait until supervise runs `dir`'s ./run; its pid. */
async function up(t: Tree, dir: string): Promise<number> {
  return await waitFor(`${dir} up`, () => {
    const st = readStatus(t.path(dir));
    return st && st.pid && alive(st.pid) ? st.pid : 0;
  });
}

/** True when `pid` runs svwait (its command line names it). */
function isSvwait(pid: number): boolean {
  return readOr(`/proc/${pid}/cmdline`).split("\0").some((w) => /(^|\/)svwait$/.test(w));
}

const noSecs = (s: string) =>
  s.replace(/[0-9]+ seconds/g, "N seconds").replace(/pid [0-9]+/g, "pid P");

// ------------------------------------------------------------------ readiness

Deno.test("readiness: fd N is a pipe; the first newline makes svwait -U return and svstat say ready", async () => {
  await using t = await tree();
  await t.service("s", {
    // the second write may find the pipe closed already: EPIPE, not a SIGPIPE that would end
    // the process (and its readiness) under the test's feet
    run: "#!/bin/sh\ntrap '' PIPE\nwhile [ ! -e ../go ]; do sleep 0.05; done\n" +
      "echo ready >&5\necho twice >&5 2>/dev/null\nexec sleep 100000\n",
  });
  await Deno.writeTextFile(t.path("s/notification-fd"), "5\n");
  supervise(t, "s");
  const pid = await up(t, "s");
  assert(Deno.readLinkSync(`/proc/${pid}/fd/5`).startsWith("pipe:"));
  assertEquals(noSecs(await svstat(t, "s")), "s: up (pid P) N seconds, not ready\n");
  assertEquals((await svwait(t, "-U", "-t", "0", "s")).code, 99);
  assertEquals((await svwait(t, "-u", "-t", "0", "s")).code, 0); // already up: at once
  const waiting = svwait(t, "-U", "s");
  await waitFor("svwait waiting", () => processesUnder(t.root).some(isSvwait));
  await Deno.writeTextFile(t.path("go"), "");
  const r = await waiting;
  assertEquals([r.code, r.stderr], [0, ""]);
  // svwait's memory holder (a clone sharing its memory, cmd/svwait.ts) dies with it
  await waitFor("no svwait process left", () => !processesUnder(t.root).some(isSvwait));
  assertEquals(noSecs(await svstat(t, "s")), "s: up (pid P) N seconds, ready N seconds\n");
  assert(
    readOr(t.path("s/supervise/extra")).startsWith(`ready ${pid} 40000000`),
    readOr(t.path("s/supervise/extra")) + "/" + pid,
  );
  // Debian's svstat still reads the 18-byte status
  assertEquals(Deno.statSync(t.path("s/supervise/status")).size, 18);
  // readiness ends with the process
  await svc(t, "-k", "s");
  const pid2 = await waitFor("restart", () => {
    const st = readStatus(t.path("s"));
    return st && st.pid && st.pid !== pid ? st.pid : 0;
  });
  await waitFor("ready again", async () => (await svwait(t, "-U", "-t", "0", "s")).code === 0);
  assert(readOr(t.path("s/supervise/extra")).startsWith(`ready ${pid2} `));
});

Deno.test("readiness: no newline, or the fd closed unwritten, never makes the service ready", async () => {
  await using t = await tree();
  await t.service("a", { run: "#!/bin/sh\nprintf x >&3\nexec sleep 100000\n" });
  await t.service("b", { run: "#!/bin/sh\nexec 3>&-\nexec sleep 100000\n" });
  for (const d of ["a", "b"]) {
    await Deno.writeTextFile(t.path(`${d}/notification-fd`), "3");
    supervise(t, d);
    await up(t, d);
  }
  const r = await svwait(t, "-U", "-o", "-t", "600", "a", "b");
  assertEquals([r.code, r.stderr], [99, "svwait: fatal: timed out\n"]);
  assertEquals(
    noSecs(await svstat(t, "a", "b")),
    "a: up (pid P) N seconds, not ready\nb: up (pid P) N seconds, not ready\n",
  );
});

Deno.test("bad input: notification-fd junk, negative, 0/1/2, too high: a warning, no readiness", async () => {
  await using t = await tree();
  const cases: [string, string][] = [
    ["junk", "not a descriptor number"],
    ["-3", "not a descriptor number"],
    ["0", "descriptor 0, 1 or 2 is already in use"],
    ["1", "descriptor 0, 1 or 2 is already in use"],
    ["2", "descriptor 0, 1 or 2 is already in use"],
    ["5000", "descriptor above 1023"],
  ];
  for (const [i, [content, why]] of cases.entries()) {
    const d = `n${i}`;
    await t.service(d);
    await Deno.writeTextFile(t.path(`${d}/notification-fd`), content);
    const s = supervise(t, d);
    await up(t, d);
    await waitFor("warning", () => readOr(s.err).length > 0);
    assertEquals(readOr(s.err), `supervise: warning: ${d}/notification-fd: ${why}, ignored\n`);
    assertEquals(noSecs(await svstat(t, d)), `${d}: up (pid P) N seconds\n`);
    assertEquals((await svwait(t, "-U", "-t", "0", d)).code, 0); // -U is -u without readiness
  }
});

Deno.test("no lifecycle file: no supervise/extra, no new words", async () => {
  await using t = await tree();
  await t.service("s");
  supervise(t, "s");
  await up(t, "s");
  assertEquals(noSecs(await svstat(t, "s")), "s: up (pid P) N seconds\n");
  const names = [...Deno.readDirSync(t.path("s/supervise"))].map((e) => e.name).sort();
  assertEquals(names, ["control", "history", "lock", "ok", "status"]); // history: issue 11
});

// ------------------------------------------------------------------ graceful stop

Deno.test("down-signal: svc -d sends it (CONT follows); junk: a warning and TERM", async () => {
  await using t = await tree();
  const body = (f: string) =>
    `#!/bin/sh\ntrap 'echo HUP >> ../${f}; exit 0' HUP\ntrap 'echo TERM >> ../${f}; exit 0' TERM\nwhile :; do sleep 0.05; done\n`;
  await t.service("h", { run: body("h.got") });
  await t.service("j", { run: body("j.got") });
  await Deno.writeTextFile(t.path("h/down-signal"), "SIGHUP\n");
  await Deno.writeTextFile(t.path("j/down-signal"), "NOSUCH\n");
  supervise(t, "h");
  const sj = supervise(t, "j");
  await up(t, "h");
  await up(t, "j");
  await svc(t, "-d", "h", "j");
  assertEquals((await svwait(t, "-d", "-t", "10000", "h", "j")).code, 0);
  assertEquals(readOr(t.path("h.got")), "HUP\n");
  assertEquals(readOr(t.path("j.got")), "TERM\n");
  assertEquals(readOr(sj.err), "supervise: warning: j/down-signal: not a signal name, ignored\n");
});

Deno.test("timeout-kill: a process ignoring TERM is KILLed; junk or 0: a warning", async () => {
  await using t = await tree();
  const stubborn = "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.05; done\n";
  await t.service("k", { run: stubborn });
  await Deno.writeTextFile(t.path("k/timeout-kill"), "200\n");
  for (const [d, v] of [["z", "0"], ["q", "soon"]]) {
    await t.service(d);
    await Deno.writeTextFile(t.path(`${d}/timeout-kill`), v);
  }
  supervise(t, "k");
  const sz = supervise(t, "z"), sq = supervise(t, "q");
  await up(t, "k");
  await svc(t, "-d", "k");
  const r = await svwait(t, "-d", "-t", "10000", "k");
  assertEquals([r.code, r.stderr], [0, ""]);
  for (const [s, d] of [[sz, "z"], [sq, "q"]] as const) {
    await waitFor("warning", () => readOr(s.err).length > 0);
    assertEquals(
      readOr(s.err),
      `supervise: warning: ${d}/timeout-kill: not a positive number of milliseconds, ignored\n`,
    );
  }
});

// ------------------------------------------------------------------ finish

Deno.test("finish: gets the exit code (256 and the signal when killed); svwait -D waits for it", async () => {
  await using t = await tree();
  await t.service("s", {
    run: "#!/bin/sh\n[ -e ../once ] && exec sleep 100000\ntouch ../once\nsleep 1.2\nexit 3\n",
  });
  await script(t.path("s/finish"), '#!/bin/sh\necho "$@" >> ../args\nsleep 0.3\n');
  supervise(t, "s");
  await waitFor("first finish", () => readOr(t.path("args")) === "3 0\n");
  const pid = await up(t, "s");
  await svc(t, "-d", "s");
  // down at once (svstat: down), done once finish ended
  assertEquals((await svwait(t, "-D", "-t", "10000", "s")).code, 0);
  assertEquals(readOr(t.path("args")), "3 0\n256 15\n");
  assert(!alive(pid));
  assertEquals(readOr(t.path("s/supervise/extra")), "");
});

Deno.test("finish exiting 125: the service stays down until svc -u (every run)", async () => {
  await using t = await tree();
  await t.service("s", { run: "#!/bin/sh\necho run >> ../runs\nsleep 1.1\n" });
  await script(t.path("s/finish"), "#!/bin/sh\nexit 125\n");
  supervise(t, "s");
  await waitFor(
    "down after finish",
    async () =>
      (await svwait(t, "-D", "-t", "0", "s")).code === 0 && readOr(t.path("runs")) === "run\n" &&
      readStatus(t.path("s"))?.wantByte === 0x64,
  );
  assertEquals(noSecs(await svstat(t, "s")), "s: down N seconds, normally up\n");
  await svc(t, "-u", "s");
  await waitFor(
    "second run done",
    async () =>
      readOr(t.path("runs")) === "run\nrun\n" && readStatus(t.path("s"))?.wantByte === 0x64 &&
      (await svwait(t, "-D", "-t", "0", "s")).code === 0,
  );
});

Deno.test("finish: not executable: a warning, restart as usual; hanging: KILLed after timeout-finish", async () => {
  await using t = await tree();
  await t.service("n", { run: "#!/bin/sh\necho run >> ../n.runs\nsleep 1.1\n" });
  await Deno.writeTextFile(t.path("n/finish"), "#!/bin/sh\n");
  await t.service("h", { run: "#!/bin/sh\nsleep 1.1\n" });
  await script(t.path("h/finish"), "#!/bin/sh\necho $$ > ../h.fin\nexec sleep 100000\n");
  await Deno.writeTextFile(t.path("h/timeout-finish"), "300");
  await t.service("j");
  await Deno.writeTextFile(t.path("j/timeout-finish"), "never");
  const sn = supervise(t, "n");
  supervise(t, "h");
  const sj = supervise(t, "j");
  await waitFor("restarted", () => readOr(t.path("n.runs")) === "run\nrun\n", 15_000);
  assert(
    readOr(sn.err).startsWith("supervise: warning: unable to start n/finish: access denied\n"),
  );
  const fin = Number(await waitFor("finish started", () => readOr(t.path("h.fin")).trim()));
  await waitFor("finish killed", () => !alive(fin));
  await warnsOnly(sj, "j/timeout-finish: not a positive number of milliseconds, ignored");
});

Deno.test("bad input: restart-backoff junk or 0: a warning, 0.76's pause", async () => {
  await using t = await tree();
  await t.service("s");
  await Deno.writeTextFile(t.path("s/restart-backoff"), "lots");
  const s = supervise(t, "s");
  await up(t, "s");
  await warnsOnly(s, "s/restart-backoff: not a positive number of milliseconds, ignored");
});

// ------------------------------------------------------------------ restart-backoff, exec failures

/**
 * A ./run that appends its start time (ns) to `../NAME.starts` and exits 1 at once, but for its
 * 4th run, which lasts 1.5 s (a run of a second or more resets the back-off).
 */
function crashing(name: string): string {
  return `#!/bin/sh\ndate +%s%N >> ../${name}.starts\n` +
    `[ "$(wc -l < ../${name}.starts)" -eq 4 ] && sleep 1.5\nexit 1\n`;
}

/** The five gaps (ms) between the first six starts `crashing` recorded in `file`. */
async function startGaps(file: string): Promise<number[]> {
  const lines = await waitFor(
    `six starts in ${file}`,
    () => {
      const l = readOr(file).split("\n").filter((x) => x !== "");
      return l.length >= 6 ? l : undefined;
    },
    20_000,
    50,
  );
  const ms = lines.slice(0, 6).map((l) => Number(BigInt(l) / 1_000_000n));
  return ms.slice(1).map((t, i) => t - ms[i]);
}

/**
 * What `restart-backoff` 4000 promises `crashing`'s starts: pauses of at least 1, 2, 4 s (less
 * 100 ms: the script notes its start a little after the spawn), growing; then the 1.5 s run;
 * then, reset by it, a pause of 1 s again: shorter than the 4 s one (which would follow
 * without the reset).
 */
function assertBackoff(g: number[], what: string): void {
  const msg = `${what}: gaps ${g.join(", ")} ms`;
  assert(g[0] >= 900 && g[1] >= 1900 && g[2] >= 3900, msg);
  assert(g[0] < g[1] && g[1] < g[2], msg);
  assert(g[3] >= 1400, msg);
  assert(g[4] >= 900 && g[4] < g[2], msg);
}

Deno.test("restart-backoff 4000: starts 1, 2, 4 s apart, a run of 1 s resets it; supervise and svscan", async () => {
  await using t = await tree();
  await t.service("b", { run: crashing("b") });
  await Deno.writeTextFile(t.path("b/restart-backoff"), "4000");
  supervise(t, "b");
  await withScan(async (s) => {
    const d = `${s.dir}/b`;
    await Deno.mkdir(d);
    await script(`${d}/run`, crashing("b"));
    await Deno.writeTextFile(`${d}/restart-backoff`, "4000");
    s.start();
    // both run at once: the test takes the ~10 s of one
    const [alone, scanned] = await Promise.all([
      startGaps(t.path("b.starts")),
      startGaps(`${s.dir}/b.starts`),
    ]);
    assertBackoff(alone, "supervise");
    assertBackoff(scanned, "svscan");
  });
});

Deno.test("./run not executable or its interpreter missing: no finish (as s6), 0.76's restart, restart-backoff counts it", async () => {
  await using t = await tree();
  await Deno.mkdir(t.path("x"));
  await Deno.writeTextFile(t.path("x/run"), "#!/bin/sh\n", { mode: 0o644 });
  await Deno.writeTextFile(t.path("x/restart-backoff"), "4000");
  await t.service("i", { run: "#!/nonexistent/sh\n" });
  for (const n of ["x", "i"]) {
    await script(t.path(`${n}/finish`), `#!/bin/sh\necho >> ../${n}.fin\n`);
  }
  const sx = supervise(t, "x");
  const si = supervise(t, "i");
  // each failed start is an exit 111 in supervise/history, timed when it failed
  const failed = new Set<number>();
  await waitFor(
    "four failed starts of x",
    () => {
      const time = readHistory(t.path("x/supervise/history"))?.lastExit?.time;
      if (time !== undefined) failed.add(time);
      return failed.size >= 4;
    },
    20_000,
    50,
  );
  const at = [...failed].map((s) => s * 1000);
  const gaps = at.slice(1).map((t, i) => Math.round(t - at[i]));
  const msg = `gaps ${gaps.join(", ")} ms`;
  assert(gaps[0] >= 950 && gaps[1] >= 1950 && gaps[2] >= 3950, msg);
  assert(gaps[0] < gaps[1] && gaps[1] < gaps[2], msg);
  const fail = (n: string, why: string) => `supervise: fatal: unable to start ${n}/run: ${why}\n`;
  assert(readOr(sx.err).startsWith(fail("x", "access denied").repeat(4)), readOr(sx.err));
  // without restart-backoff: 0.76's pause, restarted as often
  await waitFor(
    "i restarted",
    () => readOr(si.err).startsWith(fail("i", "file does not exist").repeat(3)),
  );
  // a finish would have run (and ended) before each next start
  assertEquals([readOr(t.path("x.fin")), readOr(t.path("i.fin"))], ["", ""]);
});

// ------------------------------------------------------------------ svwait

Deno.test("svwait: usage, missing directory, no supervise, mixed states with -a and -o, -t 0", async () => {
  await using t = await tree();
  const usage = "svwait: usage: svwait [ -u | -U | -d | -D ] [ -a | -o ] [ -t ms ] dir ...\n";
  for (const args of [[], ["-t", "x", "s"], ["-z", "s"], ["-t"]]) {
    const r = await svwait(t, ...args);
    assertEquals(r.code, 100, args.join(" "));
    assert(r.stderr.endsWith(usage), r.stderr);
  }
  let r = await svwait(t, "nodir");
  assertEquals([r.code, r.stderr], [
    111,
    "svwait: fatal: unable to watch nodir/supervise: file does not exist\n",
  ]);
  await t.service("up1");
  await t.service("dn", { down: true });
  await t.service("idle");
  await Deno.mkdir(t.path("idle/supervise"));
  r = await svwait(t, "-t", "0", "idle");
  assertEquals([r.code, r.stderr], [
    111,
    "svwait: fatal: unable to wait for idle: supervise not running\n",
  ]);
  const sup = supervise(t, "up1");
  supervise(t, "dn");
  await up(t, "up1");
  await waitFor("dn supervised", () => readStatus(t.path("dn")) !== undefined);
  assertEquals((await svwait(t, "-u", "-t", "0", "up1", "dn")).code, 99);
  assertEquals((await svwait(t, "-u", "-o", "-t", "0", "up1", "dn")).code, 0);
  assertEquals((await svwait(t, "-d", "-o", "-t", "0", "up1", "dn")).code, 0);
  assertEquals((await svwait(t, "-D", "-t", "0", "dn")).code, 0);
  // the supervisor dies while waited on: 102
  const w = svwait(t, "-d", "up1");
  await new Promise((res) => setTimeout(res, 300));
  sup.proc.kill("SIGKILL");
  r = await w;
  assertEquals([r.code, r.stderr], [102, "svwait: fatal: supervise for up1 died\n"]);
});

// ------------------------------------------------------------------ under svscan

Deno.test("svscan: readiness and finish with a log service; ready survives SIGKILL + restart; TERM honours timeout-kill", async () => {
  await withScan(async (t) => {
    const d = `${t.dir}/web`;
    await Deno.mkdir(`${d}/log`, { recursive: true });
    await script(
      `${d}/run`,
      "#!/bin/sh\necho started\necho >&3\ntrap '' TERM\nwhile :; do sleep 0.05; done\n",
    );
    await script(`${d}/finish`, '#!/bin/sh\necho finish "$@"\n');
    await Deno.writeTextFile(`${d}/notification-fd`, "3");
    await Deno.writeTextFile(`${d}/timeout-kill`, "300");
    await script(`${d}/log/run`, "#!/bin/sh\nexec cat >> ../../web.log\n");
    await Deno.writeTextFile(`${d}/log/notification-fd`, "4");
    await script(`${d}/log/run`, "#!/bin/sh\necho >&4\nexec cat >> ../../web.log\n");
    const scan1 = t.start();
    await waitFor("supervised", () => okRunning(d) && okRunning(`${d}/log`));
    const w = await run(prog("svwait"), ["-U", "-t", "20000", "web", "web/log"], { cwd: t.dir });
    assertEquals([w.code, w.stderr], [0, ""]);
    const pid = readStatus(d)!.pid;
    const before = readOr(`${d}/supervise/extra`);
    await scan1.stop("SIGKILL");
    t.start();
    await waitFor("supervised again", () => okRunning(d) && okRunning(`${d}/log`));
    assertEquals(readStatus(d)?.pid, pid); // adopted, not restarted
    assertEquals(readOr(`${d}/supervise/extra`), before);
    assertEquals((await run(prog("svwait"), ["-U", "-t", "0", "web"], { cwd: t.dir })).code, 0);
    const st = (await run(prog("svstat"), ["web"], { cwd: t.dir })).stdout;
    assert(/^web: up \(pid [0-9]+\) [0-9]+ seconds, ready [0-9]+ seconds\n$/.test(st), st);
    // svc -d: TERM ignored, KILL after 300 ms, finish's output goes down the log pipe; the
    // adopted process is not our child: its exit status is unknown (-1 0)
    await run(prog("svc"), ["-d", "web"], { cwd: t.dir });
    assertEquals((await run(prog("svwait"), ["-D", "-t", "20000", "web"], { cwd: t.dir })).code, 0);
    await waitFor("finish logged", () => readOr(`${t.dir}/web.log`).includes("finish -1 0\n"));
    assert(readOr(`${t.dir}/web.log`).startsWith("started\n"));
  });
});

Deno.test("svscan: TERM with a service ignoring TERM and timeout-kill: svscan ends, the service is gone", async () => {
  await withScan(async (t) => {
    const d = `${t.dir}/stuck`;
    await Deno.mkdir(d);
    await script(d + "/run", "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.05; done\n");
    await Deno.writeTextFile(`${d}/timeout-kill`, "200");
    const scan = t.start();
    await waitFor("up", () => (readStatus(d)?.pid ?? 0) > 0);
    const pid = readStatus(d)!.pid;
    const s = await scan.stop("SIGTERM");
    assertEquals(s.code, 0);
    assert(!alive(pid));
  });
});

void SLEEP;

Deno.test("svstat -j: ready from notification-fd, state finish while ./finish runs, history's ready", async () => {
  await using t = await tree();
  const json = async () =>
    JSON.parse((await run(prog("svstat"), ["-j", "s"], { cwd: t.root })).stdout);
  await t.service("s", {
    run:
      "#!/bin/sh\nwhile [ ! -e ../go ]; do sleep 0.05; done\necho ready >&5\nexec sleep 100000\n",
  });
  await Deno.writeTextFile(t.path("s/notification-fd"), "5\n");
  await script(t.path("s/finish"), "#!/bin/sh\nwhile [ ! -e ../done ]; do sleep 0.05; done\n");
  supervise(t, "s");
  await up(t, "s");
  assertEquals([(await json()).state, (await json()).ready], ["up", false]);
  await Deno.writeTextFile(t.path("go"), "");
  await waitFor("ready in svstat -j", async () => (await json()).ready === true);
  const h = JSON.parse(readOr(t.path("s/supervise/history")));
  assert(typeof h.ready === "number" && h.ready > 0, JSON.stringify(h));
  // down: ./finish runs (and waits for ../done): state "finish", then "down"
  await svc(t, "-d", "s");
  await waitFor("state finish", async () => (await json()).state === "finish");
  assertEquals(JSON.parse(readOr(t.path("s/supervise/history"))).ready, null);
  await Deno.writeTextFile(t.path("done"), "");
  await waitFor("state down", async () => (await json()).state === "down");
  assertEquals((await json()).ready, false);
});

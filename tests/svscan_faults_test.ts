/**
 * svscan under faults: SIGKILL of a service, of a logger while its service writes steadily,
 * of svscan itself (restart adopts, no duplicate, no lost line), a service that exits at once
 * forever, and svscan as pid 1 of a pid namespace (orphans reaped, TERM = orderly stop).
 */
import { assert, assertEquals, assertNotEquals } from "./assert.ts";
import {
  alive,
  canUnshare,
  processesUnder,
  prog,
  readOr,
  run,
  statusPid,
  waitFor,
} from "./util.ts";
import { exists, scanTest, service, stallTree, waitUp, withScan } from "./svscan_util.ts";

/** A service printing numbered lines in bursts (0, 1, 2, ... never a gap) and its logger. */
const WRITER = "#!/bin/sh\ni=0\nwhile :; do seq $i $((i+99)); i=$((i+100)); sleep 0.01; done\n";
const CAT_LOGGER = "#!/bin/sh\nexec cat >> ../out\n";

/**
 * SIGKILL the logger of `svc` while it holds no line. A logger killed between its read() and
 * its write() loses what it read, under daemontools too: no pipe keeps bytes a process has
 * already taken. So the writers are frozen, the logger is seen asleep on the empty pipe, killed,
 * and the writers thawed once it is dead: what the tests check is that nothing in the pipe is
 * ever lost.
 *
 * Thawing before the death is not enough: a reader sent SIGKILL while asleep in pipe_read still
 * takes data written before it runs (the kernel's wait checks the pipe before the signal), and
 * then dies with it. That lost one burst now and then under load.
 */
async function killIdleLogger(svc: string, logger: number): Promise<void> {
  const cwdOf = (p: number) => {
    try {
      return Deno.readLinkSync(`/proc/${p}/cwd`);
    } catch {
      return "";
    }
  };
  const frozen = new Set<number>();
  for (let fresh = true; fresh;) { // until no writer has forked a new child meanwhile
    fresh = false;
    for (const p of processesUnder(svc)) {
      if (p === logger || frozen.has(p) || cwdOf(p).startsWith(`${svc}/log`)) continue;
      try {
        Deno.kill(p, "SIGSTOP");
        frozen.add(p);
        fresh = true;
      } catch {
        // exited
      }
    }
  }
  // SIGSTOP is asynchronous: a writer still running could hand the logger one more burst
  const stopped = (p: number) => {
    try {
      const st = /^\d+ \(.*\) (\S) /.exec(Deno.readTextFileSync(`/proc/${p}/stat`))?.[1] ?? "";
      // stopped, dead, or a vfork parent (dash) that cannot run until its frozen child execs
      return (st !== "" && "TtZX".includes(st)) ||
        (st === "D" && readOr(`/proc/${p}/wchan`).includes("kernel_clone"));
    } catch {
      return true; // gone
    }
  };
  try {
    await waitFor("the writers stopped", () => [...frozen].every(stopped));
    await waitFor(
      "the logger asleep on the empty pipe",
      () => readOr(`/proc/${logger}/wchan`).includes("pipe_read"),
    );
    Deno.kill(logger, "SIGKILL");
    await waitFor("the logger dead", () => !alive(logger));
  } finally {
    for (const p of frozen) {
      try {
        Deno.kill(p, "SIGCONT");
      } catch {
        // exited
      }
    }
  }
}

/** Complete lines of `text` are exactly 0..max, in order, none missing or doubled. */
function assertContiguous(text: string): number {
  const lines = text.split("\n");
  lines.pop(); // an unfinished last line (writer killed mid-burst) is not a loss
  lines.forEach((l, i) => {
    if (l !== String(i)) throw new Error(`line ${i} is ${JSON.stringify(l)} (lost or doubled)`);
  });
  return lines.length;
}

function lineCount(path: string): number {
  return readOr(path).split("\n").length - 1;
}

Deno.test("svscan faults: a killed service is restarted", () =>
  withScan(async ({ dir, start }) => {
    const svc = await service(dir, "s", "#!/bin/sh\nexec sleep 1000\n");
    start();
    const pid = await waitUp(svc);
    Deno.kill(pid, "SIGKILL");
    const again = await waitUp(svc, pid);
    assertNotEquals(again, pid);
    assert(!alive(pid));
  }));

Deno.test({
  name: "svscan faults: SIGKILL of the logger while the service writes loses no line",
  fn: () =>
    withScan(async ({ dir, start }) => {
      const svc = await service(dir, "w", WRITER, CAT_LOGGER);
      const scan = start();
      for (let k = 0; k < 3; k++) {
        const logger = await waitUp(`${svc}/log`);
        const before = lineCount(`${svc}/out`);
        await waitFor("more lines logged", () => lineCount(`${svc}/out`) > before + 300);
        await killIdleLogger(svc, logger);
        await waitUp(`${svc}/log`, logger);
      }
      const n = lineCount(`${svc}/out`);
      await waitFor("lines after the last restart", () => lineCount(`${svc}/out`) > n + 300);
      assertEquals((await scan.stop("SIGTERM")).code, 0);
      assert(assertContiguous(readOr(`${svc}/out`)) > n);
    }),
});

scanTest("svscan faults: SIGKILL of svscan: the next one adopts, no duplicate, no loss", {
  w: [WRITER, CAT_LOGGER],
  s: "#!/bin/sh\nexec sleep 1000\n",
}, async ({ start, svc: { w, s } }) => {
  const first = start();
  const pids = [await waitUp(w), await waitUp(`${w}/log`), await waitUp(s)];
  await waitFor("lines logged", () => lineCount(`${w}/out`) > 300);
  await first.stop("SIGKILL");
  // the tree keeps running without svscan, the logger keeps logging
  const n = lineCount(`${w}/out`);
  await waitFor("logging without svscan", () => lineCount(`${w}/out`) > n + 300);
  assertEquals((await run(prog("svok"), [s])).code, 100);
  const second = start();
  await waitFor("second svscan supervising s", async () => {
    return (await run(prog("svok"), [s])).code === 0 &&
      (await run(prog("svok"), [`${w}/log`])).code === 0;
  });
  // adopted: same pids in the status files, one process per service directory
  assertEquals([statusPid(w), statusPid(`${w}/log`), statusPid(s)], pids);
  assertEquals(processesUnder(s), [pids[2]]);
  assert(pids.every(alive));
  // supervision goes on: a kill of the adopted process gives a fresh start
  await run(prog("svc"), ["-k", s]);
  const again = await waitUp(s, pids[2]);
  assertNotEquals(again, pids[2]);
  // the log pipe was reopened: TERM drains it and every line is there
  const m = lineCount(`${w}/out`);
  await waitFor("logging under the second svscan", () => lineCount(`${w}/out`) > m + 300);
  assertEquals((await second.stop("SIGTERM")).code, 0);
  assert(assertContiguous(readOr(`${w}/out`)) > m);
  assertEquals(second.err, "");
});

scanTest("svscan faults: logger killed while no svscan runs: the service waits, no loss", {
  w: [WRITER, CAT_LOGGER],
}, async ({ start, svc: { w } }) => {
  const first = start();
  const pid = await waitUp(w);
  const logger = await waitUp(`${w}/log`);
  await waitFor("lines logged", () => lineCount(`${w}/out`) > 300);
  await first.stop("SIGKILL");
  await killIdleLogger(w, logger);
  // no reader left but the service's own: its writes must block (not fail with EPIPE)
  await waitFor(
    "the writer blocked on the full pipe",
    () => processesUnder(w).some((p) => readOr(`/proc/${p}/wchan`).includes("pipe_write")),
  );
  assert(alive(pid));
  const second = start();
  const again = await waitUp(`${w}/log`, logger);
  assertNotEquals(again, logger);
  assertEquals(statusPid(w), pid);
  const n = lineCount(`${w}/out`);
  await waitFor("logging resumed", () => lineCount(`${w}/out`) > n + 20_000);
  assertEquals((await second.stop("SIGTERM")).code, 0);
  assertContiguous(readOr(`${w}/out`));
});

scanTest(
  "svscan faults: a service that exits at once is restarted once a second",
  {},
  async ({ dir, start }) => {
    // the kernel's start time of each ./run (ticks): a `date` in the script could run late
    await service(dir, "quick", "#!/bin/sh\ncut -d' ' -f22 /proc/$$/stat >> ../starts\nexit 1\n");
    const scan = start();
    const ticks = () => {
      const s = Deno.readTextFileSync(`/proc/${scan.pid}/stat`);
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      return Number(f[11]) + Number(f[12]); // utime + stime
    };
    await waitFor("first start", () => readOr(`${dir}/starts`) !== "");
    const cpu0 = ticks();
    await waitFor("4 more starts", () => lineCount(`${dir}/starts`) >= 5, 15_000);
    const cpu = ticks() - cpu0;
    const t = readOr(`${dir}/starts`).trim().split("\n").map((n) => Number(n) / 100);
    for (let i = 1; i < t.length; i++) {
      // 0.76's throttle: consecutive starts at least a second apart (lower bound only)
      assert(t[i] - t[i - 1] >= 0.95, `starts ${t[i - 1]} and ${t[i]} too close`);
    }
    // no busy loop: far below one core over those ≥4 seconds (100 ticks = 1 s of CPU)
    assert(cpu < 100, `svscan used ${cpu} ticks`);
  },
);

scanTest({
  name: "svscan faults: as pid 1 it reaps orphans and stops in order on TERM",
  ignore: !canUnshare(),
}, {
  parent: [
    "#!/bin/sh\n(sh -c 'echo $$ > ../orphan; exec sleep 0.3' &)\nexec sleep 1000\n",
    "#!/bin/sh\nexec cat >> ../../log.out\n",
  ],
  talk: [
    "#!/bin/sh\ntrap 'echo bye; exit 0' TERM\necho hi\nwhile :; do sleep 0.05; done\n",
    "#!/bin/sh\nexec cat >> ../../talk.out\n",
  ],
}, async ({ dir, start }) => {
  const scan = start({
    cmd: "unshare",
    args: ["--pid", "--fork", "--mount-proc", prog("svscan"), dir],
  });
  await waitFor("orphan started", () => readOr(`${dir}/orphan`).trim());
  const svscan = await waitFor("svscan in the namespace", () => {
    const kids = readOr(`/proc/${scan.pid}/task/${scan.pid}/children`).trim();
    return kids ? Number(kids.split(" ")[0]) : 0;
  });
  await waitFor("hi logged", () => readOr(`${dir}/talk.out`) === "hi\n");
  // the orphan (sleep 0.3) was reparented to svscan; once it exits it must be reaped:
  // only the 4 service processes remain as svscan's children, none a zombie
  await waitFor("orphan reaped", () => {
    const kids: number[] = [];
    for (const t of Deno.readDirSync(`/proc/${svscan}/task`)) {
      const c = readOr(`/proc/${svscan}/task/${t.name}/children`).trim();
      if (c) kids.push(...c.split(" ").map(Number));
    }
    const zombie = kids.some((k) => / Z /.test(readOr(`/proc/${k}/stat`).replace(/^.*\)/, "")));
    return kids.length === 4 && !zombie;
  });
  Deno.kill(svscan, "SIGTERM");
  const st = await scan.stop("SIGCONT"); // just wait: unshare exits with svscan's status
  assertEquals(st.code, 0);
  assertEquals(readOr(`${dir}/talk.out`), "hi\nbye\n");
});

scanTest(
  "svscan faults: a status that is a FIFO or /dev/zero stalls nothing",
  {},
  async ({ dir, start }) => {
    await stallTree(dir);
    const scan = start();
    for (const n of ["good", "fifo", "zero"]) {
      await waitFor(`${n}'s run`, () => exists(`${dir}/${n}.started`));
      await waitUp(`${dir}/${n}`);
    }
    // svscan still works: a killed service is restarted
    const pid = statusPid(`${dir}/good`);
    Deno.kill(pid, "SIGKILL");
    await waitUp(`${dir}/good`, pid);
    assertEquals(scan.err, "");
  },
);

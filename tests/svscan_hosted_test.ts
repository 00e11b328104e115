/**
 * svscan's hosted loggers (issue 9; docs/svscan.md "Hosted loggers"): a `log/run` that only
 * execs our multilog runs inside svscan; everything else, and everything while the opt-out
 * file exists, runs as a process. Real svscan, real services, exact log bytes.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { debian, prog, readOr, run, script, statusPid, waitFor } from "./util.ts";
import {
  counting,
  exists,
  HELLO,
  hostedTest,
  LOG,
  logLines,
  multilogsIn,
  scanTest,
  service,
  stopCounting,
  waitUp,
} from "./svscan_util.ts";

async function svc(args: string[], dir: string): Promise<void> {
  const r = await run(prog("svc"), [...args, dir]);
  assertEquals([r.code, r.stderr], [0, ""]);
}

hostedTest(
  "svscan hosted: the logger runs inside svscan; status shows svscan's pid",
  HELLO,
  async ({ dir, scan, log }) => {
    await waitFor("hello logged", () => logLines(log).includes("hello"));
    assertEquals(statusPid(log), scan.pid);
    assertEquals(multilogsIn(log), [], "no logger process");
    const svstat = debian("svstat") ?? prog("svstat");
    const st = await run(svstat, [log]);
    assertMatch(st.stdout, new RegExp(`^${log}: up \\(pid ${scan.pid}\\) \\d+ seconds\\n$`));
    const ok = await run(debian("svok") ?? prog("svok"), [log]);
    assertEquals(ok.code, 0);
    // -a: rotate now
    await svc(["-a"], log);
    await waitFor("a rotated file", () => {
      try {
        return [...Deno.readDirSync(`${log}/main`)].some((e) => /^@[0-9a-f]{24}\.s$/.test(e.name));
      } catch {
        return false;
      }
    });
    assertEquals(readOr(`${log}/main/current`), "");
    // -d: down (nothing reads: lines wait in the pipe), -u: up, and they arrive
    await svc(["-d"], log);
    await waitFor("log down", async () => (await run(svstat, [log])).stdout.includes(": down "));
    await svc(["-t"], `${dir}/a`);
    await waitUp(`${dir}/a`);
    await new Promise((r) => setTimeout(r, 200));
    assertEquals(logLines(log), ["hello"]);
    await svc(["-u"], log);
    await waitFor("second hello", () => logLines(log).length === 2);
    assertEquals(logLines(log), ["hello", "hello"]);
    assertEquals(statusPid(log), scan.pid);
    assert(scan.err === "", scan.err);
  },
);

hostedTest(
  "svscan hosted: svc -t/-k/-i/-h of the logger lose and double nothing",
  counting("0.005"),
  async ({ dir, scan, log }) => {
    await waitFor("lines", () => logLines(log).length > 20);
    for (const letter of ["-t", "-k", "-i", "-h", "-t", "-k"]) {
      const before = logLines(log).length;
      await svc([letter], log);
      await waitFor(`logging again after ${letter}`, () => logLines(log).length > before + 20);
      assertEquals(statusPid(log), scan.pid);
    }
    await stopCounting(dir, log);
    assertEquals(multilogsIn(log), []);
  },
);

hostedTest(
  "svscan hosted: a service restarting mid-line gives one whole line",
  "#!/bin/sh\nif [ -e ../once ]; then echo end; exec sleep 1000; fi\n" +
    "touch ../once\nprintf begin-\nexit 0\n",
  async ({ log }) => {
    await waitFor("the line", () => logLines(log).length > 0);
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(logLines(log), ["begin-end"]);
  },
);

/** `log/run` texts that are not hosted: they run as processes. */
const NOT_HOSTED: Record<string, string> = {
  args: '#!/bin/sh\nARGS="t ./main"\nexec multilog $ARGS\n',
  pipeline: "#!/bin/sh\ncat | multilog t ./main\n",
  work: "#!/bin/sh\necho starting >&2\nexec multilog t ./main\n",
  // not lossless when hosted: a process keeps its lines across a crash of svscan
  twodirs: "#!/bin/sh\nexec multilog t ./main ./second\n",
  selection: "#!/bin/sh\nexec multilog t '-*x*' ./main\n",
  status: "#!/bin/sh\nexec multilog t ./main =status\n",
};

scanTest(
  "svscan hosted: variants outside the grammar run as processes and log alike",
  {},
  async ({ dir, start }) => {
    const names = Object.keys(NOT_HOSTED);
    for (const n of names) {
      await service(dir, n, HELLO, NOT_HOSTED[n]);
    }
    await service(dir, "hosted", HELLO, LOG);
    const scan = start();
    for (const n of [...names, "hosted"]) {
      const log = `${dir}/${n}/log`;
      await waitFor(`${n} logged`, () => logLines(log).includes("hello"));
      if (n === "hosted") {
        assertEquals(statusPid(log), scan.pid);
        assertEquals(multilogsIn(log), []);
      } else {
        const pid = statusPid(log);
        assert(pid !== scan.pid && pid > 0, n);
        assertEquals(multilogsIn(log).length, 1, `${n}: one logger process`);
      }
    }
  },
);

scanTest(
  "svscan hosted: the opt-out file makes every logger a process",
  {},
  async ({ dir, start }) => {
    await Deno.writeTextFile(`${dir}/.svscan-no-hosted-loggers`, "");
    await service(dir, "a", HELLO, LOG);
    const scan = start();
    const log = `${dir}/a/log`;
    await waitFor("hello", () => logLines(log).includes("hello"));
    assert(statusPid(log) !== scan.pid);
    assertEquals(multilogsIn(log).length, 1);
    // removed: the next start is hosted
    await Deno.remove(`${dir}/.svscan-no-hosted-loggers`);
    await svc(["-t"], log);
    await waitFor("hosted now", () => statusPid(log) === scan.pid);
    await waitFor("no process", () => multilogsIn(log).length === 0);
  },
);

hostedTest(
  "svscan hosted: log/run edited to not hosted and back takes effect at svc -t",
  counting("0.01"),
  async ({ dir, scan, log }) => {
    await waitFor("lines", () => logLines(log).length > 5);
    assertEquals(statusPid(log), scan.pid);
    await script(`${log}/run`, "#!/bin/sh\necho spawned >&2\nexec multilog t ./main\n");
    await svc(["-t"], log);
    await waitFor("a process", () => multilogsIn(log).length === 1);
    assert(statusPid(log) !== scan.pid);
    await script(`${log}/run`, LOG);
    await svc(["-t"], log);
    await waitFor("hosted again", () => statusPid(log) === scan.pid);
    await waitFor("no process", () => multilogsIn(log).length === 0);
    await stopCounting(dir, log);
  },
);

scanTest(
  "svscan hosted: a log directory that is a file: multilog's message, svscan goes on; a symlink is followed as by the process",
  { link: [HELLO, LOG] },
  async ({ dir, start }) => {
    await Deno.mkdir(`${dir}/.elsewhere`);
    await Deno.symlink(`${dir}/.elsewhere`, `${dir}/link/log/main`);
    await service(dir, "file", HELLO, LOG);
    await Deno.writeTextFile(`${dir}/file/log/main`, "not a directory\n");
    await service(dir, "good", HELLO, LOG);
    const scan = start();
    await waitFor("good logged", () => logLines(`${dir}/good/log`).includes("hello"));
    await waitFor("link logged", () => readOr(`${dir}/.elsewhere/current`).endsWith(" hello\n"));
    await scan.waitErr("multilog: fatal: unable to open directory ./main: not a directory\n");
    assertEquals(readOr(`${dir}/file/log/main`), "not a directory\n");
    assertEquals(scan.status, undefined, "svscan runs");
    // retried after the throttle: the line waits in the pipe, fixing the directory delivers it
    await Deno.remove(`${dir}/file/log/main`);
    await waitFor("file's line", () => logLines(`${dir}/file/log`).includes("hello"));
    assertEquals(logLines(`${dir}/file/log`), ["hello"]);
    assertEquals(statusPid(`${dir}/file/log`), scan.pid);
  },
);

scanTest("svscan hosted: megabytes without a newline, then a burst of svc -a", {
  flood: [
    counting("0.002", { before: "head -c 3000000 /dev/zero | tr '\\0' x\necho\necho after\n" }),
    "#!/bin/sh\nexec multilog t s100000 n4 ./main\n",
  ],
  other: [HELLO, LOG],
}, async ({ dir, start }) => {
  const scan = start();
  const log = `${dir}/flood/log`;
  await waitFor("after", () => logLines(log).includes("after"), 20_000);
  // supervision answers meanwhile
  const before = await waitUp(`${dir}/other`);
  await svc(["-t"], `${dir}/other`);
  await waitUp(`${dir}/other`, before);
  // a burst of 300 rotations to one logger
  const fd = Deno.openSync(`${log}/supervise/control`, { write: true });
  fd.writeSync(new TextEncoder().encode("a".repeat(300)));
  fd.close();
  await new Promise((r) => setTimeout(r, 500));
  await Deno.writeTextFile(`${dir}/stop`, "");
  await waitFor("done", () => readOr(`${log}/main/current`).includes("done\n"), 20_000);
  const names = [...Deno.readDirSync(`${log}/main`)].map((e) => e.name);
  assert(names.filter((n) => n.startsWith("@")).length <= 3, names.join(" "));
  assertEquals(statusPid(log), scan.pid);
  assertEquals(scan.status, undefined);
  assertEquals(logLines(`${dir}/other/log`), ["hello", "hello"]);
});

scanTest("svscan hosted: 500 hosted loggers at once", {}, async ({ dir, start }) => {
  const N = 500;
  for (let i = 0; i < N; i++) {
    await service(dir, `s${i}`, HELLO, LOG);
  }
  const scan = start();
  await waitFor("every line logged", () => {
    for (let i = 0; i < N; i++) {
      if (!readOr(`${dir}/s${i}/log/main/current`).includes(" hello\n")) return false;
    }
    return true;
  }, 120_000);
  for (let i = 0; i < N; i += 50) assertEquals(statusPid(`${dir}/s${i}/log`), scan.pid);
  assertEquals(multilogsIn(dir, true), []);
});

scanTest(
  "svscan hosted: SIGKILL of svscan mid-line and a restart: every line once, whole, one stamp",
  {},
  async ({ dir, start }) => {
    // each line in two pieces; while ../hold exists the second piece waits, so svscan can be
    // killed with half a line read by its logger. One test of ../hold decides both the waiting and
    // ../half: a hold made after a line's test holds the next line, never one without ../half.
    await service(
      dir,
      "a",
      counting("0.002", {
        line: 'printf "line %d " $i; if [ -e ../hold ]; then touch ../half; ' +
          'while [ -e ../hold ]; do sleep 0.01; done; rm -f ../half; fi; printf "%0300d\\n" 0',
      }),
      LOG,
    );
    const log = `${dir}/a/log`;
    let scan = start();
    for (let k = 0; k < 3; k++) {
      const before = logLines(log).length;
      await waitFor(`logging (round ${k})`, () => logLines(log).length > before + 10);
      await Deno.writeTextFile(`${dir}/hold`, "");
      await waitFor(
        "half a line written",
        () => readOr(`${dir}/half`) === "" && exists(`${dir}/half`),
      );
      // time for the logger to take it (a logger that consumes what it reads has it now)
      await new Promise((r) => setTimeout(r, 200));
      await scan.stop("SIGKILL");
      scan = start(); // adopts the service; a new hosted logger on the same pipe
      await waitFor("the new logger", () => statusPid(log) === scan.pid);
      await Deno.remove(`${dir}/hold`);
    }
    await Deno.writeTextFile(`${dir}/stop`, "");
    await waitFor("done", () => logLines(log).includes("done"), 20_000);
    const raw = [...Deno.readDirSync(`${log}/main`)].map((e) => e.name)
      .filter((n) => n.startsWith("@") || n === "current").sort()
      .map((n) => readOr(`${log}/main/${n}`)).join("");
    // one stamp per line, at its start, and every line whole
    for (const l of raw.split("\n").filter((l) => l !== "")) {
      assertMatch(l, /^@[0-9a-f]{24} (line \d+ 0{300}|done)$/);
    }
    const lines = logLines(log);
    assertEquals(lines.at(-1), "done");
    const nums = lines.slice(0, -1).map((l) => Number(l.split(" ")[1]));
    assertEquals(nums, nums.map((_, i) => i + 1));
    await scan.stop();
  },
);

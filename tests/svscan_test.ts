/**
 * svscan: scanning rules, messages, bad input, misuse guard, pickup, shutdown order.
 * Real svscan processes on scratch directories; every process is killed when a test ends
 * (withScan).
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { alive, processesUnder, prog, readOr, run, script, statusPid, waitFor } from "./util.ts";
import { cat, decode, splitNul } from "../lib/bytes.ts";
import {
  badTree,
  bytesTree,
  exists,
  hasBytes,
  scanTest,
  service,
  statusPidBytes,
  waitUp,
  withScan,
} from "./svscan_util.ts";

Deno.test("svscan: chdir failure is fatal 111 with 0.76's message", async () => {
  const r = await run(prog("svscan"), ["/nonexistent/dir"]);
  assertEquals(
    [r.code, r.stderr],
    [111, "svscan: fatal: unable to chdir to /nonexistent/dir: file does not exist\n"],
  );
});

scanTest("svscan: starts services, skips dot names and files, one supervisor per inode", {
  a: "#!/bin/sh\nenv > ../a.env\necho started >> ../a.starts\nexec sleep 1000\n",
  ".hidden": "#!/bin/sh\ntouch ../hidden-ran\nexec sleep 1000\n",
}, async ({ dir, start }) => {
  await Deno.writeTextFile(`${dir}/plainfile`, "x");
  await Deno.symlink(`${dir}/a`, `${dir}/b-link`); // second name for a
  await Deno.symlink(`${dir}/nowhere`, `${dir}/dangling`);
  const scan = start();
  await waitUp(`${dir}/a`);
  await scan.waitErr("svscan: warning: unable to stat dangling: file does not exist\n");
  await waitFor("a's run", () => readOr(`${dir}/a.starts`) === "started\n");
  assertEquals(readOr(`${dir}/hidden-ran`), "");
  // services get svscan's environment, without what svscan used for itself
  // (lib/svscan/heap.ts)
  const env = readOr(`${dir}/a.env`);
  assertMatch(env, /^PATH=/m);
  assert(!/DENO_V8_FLAGS|DAEMONTOOLS_SVSCAN_V8/.test(env), env);
  // the other name is the same directory: no second supervisor (it would have failed on
  // the lock with a message naming b-link), one process
  assertEquals(statusPid(`${dir}/b-link`), statusPid(`${dir}/a`));
  assert(!scan.err.includes("b-link"), scan.err);
  assertEquals(processesUnder(`${dir}/a`), [statusPid(`${dir}/a`)]);
  const ok = await run(prog("svok"), [`${dir}/a`]);
  assertEquals(ok.code, 0);
});

scanTest("svscan: misuse guard: DIR with a run file, and a second svscan", {
  svc: "#!/bin/sh\nexec sleep 1000\n",
}, async ({ dir, start }) => {
  const r = await run(prog("svscan"), [`${dir}/svc`]);
  assertEquals(r.code, 111);
  assertEquals(
    r.stderr,
    `svscan: fatal: ${dir}/svc is a service directory (it holds run), not a scan directory\n`,
  );
  // nothing was started in it
  assertEquals(statusPid(`${dir}/svc`), 0);
  start();
  await waitUp(`${dir}/svc`);
  const second = await run(prog("svscan"), [dir]);
  assertEquals(
    [second.code, second.stderr],
    [111, `svscan: fatal: another svscan is already scanning ${dir}\n`],
  );
});

scanTest(
  "svscan: bad service directories give supervise's messages and are retried",
  { "with space": "#!/bin/sh\nexec sleep 1000\n", "new\nline": "#!/bin/sh\nexec sleep 1000\n" },
  async ({ dir, start }) => {
    await badTree(dir);
    const scan = start();
    await scan.waitErr("supervise: fatal: unable to start norun/run: file does not exist\n");
    await scan.waitErr("supervise: fatal: unable to start noexec/run: access denied\n");
    await scan.waitErr("supervise: fatal: unable to start rundir/run: access denied\n");
    await scan.waitErr("supervise: fatal: unable to chdir to log: not a directory\n");
    await scan.waitErr("svscan: warning: unable to stat loop1: symbolic link loop\n");
    await waitUp(`${dir}/with space`);
    await waitUp(`${dir}/new\nline`);
    await waitUp(`${dir}/logfile`);
    // 0.76 retries: a missing run keeps failing, about once a second
    const count = () => scan.err.split("unable to start norun/run").length - 1;
    await waitFor("a second start attempt of norun", () => count() >= 2);
    // ... and starts as soon as run appears
    await script(`${dir}/norun/run`, "#!/bin/sh\nexec sleep 1000\n");
    await waitUp(`${dir}/norun`);
    // the log supervisor is retried at the next scan (every 5 s), like 0.76's svscan
    await waitFor(
      "second chdir failure of logfile/log",
      () => scan.err.split("unable to chdir to log: not a directory").length >= 3,
      15_000,
    );
  },
);

scanTest(
  "svscan: 1001 service directories: 1000 supervised, the rest warned about",
  {},
  async ({ dir, start }) => {
    const names: string[] = [];
    for (let i = 0; i < 1001; i++) names.push(`s${String(i).padStart(4, "0")}`);
    for (const n of names) {
      await Deno.mkdir(`${dir}/${n}`);
      await Deno.writeTextFile(`${dir}/${n}/down`, "");
      await Deno.writeTextFile(`${dir}/${n}/run`, "#!/bin/sh\nexec sleep 1000\n", { mode: 0o755 });
    }
    const scan = start();
    await scan.waitErr(/svscan: warning: unable to start s\d{4}: running too many services\n/);
    const m = scan.err.match(/unable to start (s\d{4}): running too many services/)!;
    const left = m[1];
    const supervised = names.filter((n) => {
      try {
        Deno.statSync(`${dir}/${n}/supervise/status`);
        return true;
      } catch {
        return false;
      }
    });
    assertEquals(supervised.length, 1000);
    assert(!supervised.includes(left));
    // the warning repeats at every scan
    await scan.waitErr(
      new RegExp(`(unable to start ${left}: running too many services\n)[^]*\\1`),
      15_000,
    );
  },
);

scanTest(
  "svscan: a new service directory is picked up; a half-made one is not started broken",
  {},
  async ({ dir, start }) => {
    const scan = start();
    await waitFor(
      "svscan lock",
      () => readOr(`${dir}/.svscan/lock`) === "" && Deno.statSync(`${dir}/.svscan/lock`),
    );
    // made elsewhere, renamed in: the usual way
    const tmp = `${dir}/.tmp-new`;
    await service(dir, ".tmp-new", "#!/bin/sh\nexec sleep 1000\n");
    await Deno.rename(tmp, `${dir}/new`);
    await waitUp(`${dir}/new`);
    // made in place, step by step: not started until run is executable
    await Deno.mkdir(`${dir}/slow`);
    await Deno.writeTextFile(`${dir}/slow/run`, "#!/bin/sh\nexec sleep 1000\n");
    await Deno.chmod(`${dir}/slow/run`, 0o755);
    await waitUp(`${dir}/slow`);
    assert(!scan.err.includes("slow/run"), scan.err);
  },
);

scanTest("svscan: SIGTERM stops services first, loggers after draining, exit 0", {
  talker: [
    "#!/bin/sh\ntrap 'echo last words; exit 0' TERM\necho hello\nwhile :; do sleep 0.05; done\n",
    "#!/bin/sh\nexec cat >> ../../talker.log\n",
  ],
  quiet: "#!/bin/sh\nexec sleep 1000\n",
}, async ({ dir, start }) => {
  const scan = start();
  await waitFor("hello logged", () => readOr(`${dir}/talker.log`) === "hello\n");
  const s = await scan.stop("SIGTERM");
  assertEquals(s.code, 0);
  assertEquals(readOr(`${dir}/talker.log`), "hello\nlast words\n");
  // everything is down and every supervisor gone
  for (const p of ["talker", "talker/log", "quiet"]) {
    const r = await run(prog("svok"), [`${dir}/${p}`]);
    assertEquals(r.code, 100, p);
    assertEquals(statusPid(`${dir}/${p}`), 0, p);
  }
  assertMatch(scan.err, /^$/);
});

Deno.test("svscan: HUP rescans at once (a supervisor ended by svc -x comes back)", () =>
  withScan(async ({ dir, start }) => {
    const svc = await service(dir, "x", "#!/bin/sh\nexec sleep 1000\n");
    const scan = start();
    const pid = await waitUp(svc);
    await run(prog("svc"), ["-dx", svc]);
    await waitFor("supervisor gone", async () => (await run(prog("svok"), [svc])).code === 100);
    scan.child.kill("SIGHUP");
    const again = await waitUp(svc, pid);
    assert(again !== pid);
  }));

scanTest("svscan: daemontools' removal procedure: mv DIR/x DIR/.x; svc -dx DIR/.x DIR/.x/log", {
  x: ["#!/bin/sh\necho hi\nexec sleep 1000\n", "#!/bin/sh\nexec cat > ../out\n"],
}, async ({ dir, start, svc: { x } }) => {
  const scan = start();
  const pid = await waitUp(x);
  await waitUp(`${x}/log`);
  await waitFor("hi logged", () => readOr(`${x}/out`) === "hi\n");
  await Deno.rename(x, `${dir}/.x`);
  const r = await run(prog("svc"), ["-dx", `${dir}/.x`, `${dir}/.x/log`]);
  assertEquals(r.code, 0);
  // the supervisors follow the renamed directory: status written there, no warning
  await waitFor(
    "both supervisors gone",
    async () =>
      (await run(prog("svok"), [`${dir}/.x`])).code === 100 &&
      (await run(prog("svok"), [`${dir}/.x/log`])).code === 100,
  );
  assertEquals(statusPid(`${dir}/.x`), 0);
  assertEquals(statusPid(`${dir}/.x/log`), 0);
  assert(pid > 0);
  assertEquals(scan.err, "");
  assertEquals(readOr(`${dir}/.x/out`), "hi\n");
});

scanTest("svscan: TERM with nothing supervised exits 0 at once", {}, async ({ dir, start }) => {
  await Deno.mkdir(`${dir}/.ignored`);
  const scan = start();
  await waitFor("svscan lock", () => Deno.statSync(`${dir}/.svscan/lock`));
  // well inside the 10-second kill timeout of an orderly stop
  const st = await scan.stop("SIGTERM", 5000);
  assertEquals([st.code, st.signal], [0, null]);
});

Deno.test("svscan: INT and PWR (a container stop signal) stop in order like TERM", async () => {
  for (const sig of ["SIGINT", "SIGPWR"] as Deno.Signal[]) {
    await withScan(async ({ dir, start }) => {
      await service(
        dir,
        "talker",
        "#!/bin/sh\ntrap 'echo bye; exit 0' TERM\necho hi\nwhile :; do sleep 0.05; done\n",
        "#!/bin/sh\nexec cat >> ../../talker.log\n",
      );
      const scan = start();
      await waitFor("hi logged", () => readOr(`${dir}/talker.log`) === "hi\n");
      const st = await scan.stop(sig);
      assertEquals([st.code, st.signal], [0, null], sig);
      assertEquals(readOr(`${dir}/talker.log`), "hi\nbye\n", sig);
    });
  }
});

scanTest(
  "svscan: names are bytes: directories whose names are not UTF-8 are started",
  {},
  async ({ dir, start }) => {
    await bytesTree(dir);
    const scan = start();
    await waitFor("the run of \\xefbin", () => exists(`${dir}/ef.started`));
    await waitFor("the run of s\\xff", () => exists(`${dir}/ff.started`));
    for (const name of [[0xef, 0x62, 0x69, 0x6e], [0x73, 0xff]]) {
      const pid = await waitFor(
        "its status",
        () => statusPidBytes(cat(dir, "/", new Uint8Array(name))),
      );
      assert(alive(pid), `${name}: ${pid}`);
    }
    // messages carry the name's bytes too (0.76 prints them as they are)
    const warning = cat(
      "svscan: warning: unable to stat d",
      new Uint8Array([0xfe]),
      ": file does not exist\n",
    );
    await waitFor("the warning about d\\xfe", () => hasBytes(scan.errBytes, warning));
    // no name was turned into U+FFFD anywhere
    assert(!hasBytes(scan.errBytes, new Uint8Array([0xef, 0xbf, 0xbd])), scan.err);
  },
);

scanTest(
  "svscan: a small heap, and arguments and environment as bytes, in order",
  {},
  async ({ dir, start }) => {
    // ./run is env itself (no shell to reorder or drop anything): it prints what it got
    await Deno.mkdir(`${dir}/e`);
    await Deno.symlink("/usr/bin/env", `${dir}/e/run`);
    // env -i: exactly these variables, two of them not UTF-8, one the runtime's own; a last
    // argument (ignored by svscan) that is not UTF-8 either
    const scan = start({
      cmd: "sh",
      args: [
        "-c",
        `exec env -i PATH="$PATH" X="$(printf 'v\\377')" "$(printf 'Y\\376')=1" ` +
        `DENO_V8_FLAGS=--bogus W=ok "$0" "$1" "$(printf 'a\\375')"`,
        prog("svscan"),
        dir,
      ],
      path: "/usr/bin:/bin",
    });
    const b = (...x: (string | number[])[]) =>
      cat(...x.map((p) => typeof p === "string" ? p : new Uint8Array(p)));
    const want = b(
      "PATH=/usr/bin:/bin\nX=v",
      [0xff],
      "\nY",
      [0xfe],
      "=1\nDENO_V8_FLAGS=--bogus\nW=ok\n",
    );
    const out = await waitFor("the service's environment", () => {
      const o = scan.outBytes;
      return o.length >= want.length ? o : undefined;
    });
    assertEquals(out.subarray(0, want.length), want);
    // svscan runs with the small young generation (docs/svscan.md), its arguments as bytes
    const argv = splitNul(Deno.readFileSync(`/proc/${scan.pid}/cmdline`));
    assert(argv.some((a) => decode(a) === "--v8-flags=--max-semi-space-size=1"), String(argv));
    assertEquals(argv.slice(-2), [b(dir), b("a", [0xfd])]);
  },
);

/**
 * Our svscan with Debian's daemontools: Debian's svc/svstat/svok on services hosted inside
 * our svscan, Debian's multilog fed through our log pipe, run scripts written for
 * daemontools, a lock held by Debian's supervise, and adoption of a service whose Debian
 * supervise was killed. Skipped (reported) when Debian's daemontools is not installed.
 * (svscanboot: tests/svscanboot_test.ts.)
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  alive,
  debian,
  haveDebian,
  maskStatus,
  processesUnder,
  prog,
  readOr,
  run,
  statusPid,
  waitFor,
} from "./util.ts";
import { cat, decode } from "../lib/bytes.ts";
import {
  badTree,
  bytesTree,
  exists,
  hasBytes,
  type Scan,
  scanTest,
  service,
  stallTree,
  waitUp,
  withScan,
} from "./svscan_util.ts";

const D = (name: string) => debian(name) ?? `/usr/bin/${name}`;

scanTest({
  name: "svscan interop: Debian's svc, svstat, svok on services inside our svscan",
  ignore: !haveDebian,
}, {
  a: ["#!/bin/sh\nexec sleep 1000\n", "#!/bin/sh\nexec cat\n"],
  b: "#!/bin/sh\nexec sleep 1000\n",
}, async ({ dir, start, svc: { a, b } }) => {
  await Deno.writeTextFile(`${b}/down`, "");
  start();
  const pid = await waitUp(a);
  await waitUp(`${a}/log`);
  await waitFor("b supervised", async () => (await run(D("svok"), [b])).code === 0);
  assertEquals((await run(D("svok"), [a])).code, 0);
  const st = await run(D("svstat"), [a, `${a}/log`, b], { cwd: dir });
  assertEquals(
    maskStatus(st.stdout),
    `${a}: up (pid P) S seconds\n${a}/log: up (pid P) S seconds\n${b}: down S seconds\n`,
  );
  assertMatch(st.stdout, new RegExp(`^${a}: up \\(pid ${pid}\\)`));
  await run(D("svc"), ["-d", a]);
  await waitFor("a down", () => statusPid(a) === 0);
  assertEquals(
    maskStatus((await run(D("svstat"), [a])).stdout),
    `${a}: down S seconds, normally up\n`,
  );
  await run(D("svc"), ["-u", b]);
  await waitUp(b);
  assertEquals(
    maskStatus((await run(D("svstat"), [b])).stdout),
    `${b}: up (pid P) S seconds, normally down\n`,
  );
  await run(D("svc"), ["-dx", b]);
  await waitFor("b's supervisor gone", async () => (await run(D("svok"), [b])).code === 100);
  assertEquals((await run(D("svstat"), [b])).stdout, `${b}: supervise not running\n`);
});

scanTest(
  {
    name: "svscan interop: daemontools-style run scripts (setuidgid, multilog t) on PATH",
    ignore: !haveDebian,
  },
  {},
  async ({ dir, start }) => {
    await Deno.chmod(dir, 0o755);
    const svc = await service(
      dir,
      "greeter",
      "#!/bin/sh\nexec 2>&1\nexec setuidgid nobody sh -c " +
        "'for i in 1 2 3 4 5; do echo line $i as $(id -un); done; exec sleep 1000'\n",
      "#!/bin/sh\nexec multilog t ./main\n",
    );
    const scan = start({ path: "/usr/bin:/bin" });
    await waitFor(
      "5 lines in main/current",
      () => readOr(`${svc}/log/main/current`).split("\n").length === 6,
    );
    const lines = readOr(`${svc}/log/main/current`).trimEnd().split("\n");
    assertEquals(
      lines.map((l) => l.replace(/^@[0-9a-f]{24} /, "@T ")),
      [1, 2, 3, 4, 5].map((i) => `@T line ${i} as nobody`),
    );
    assertEquals(scan.err, "");
  },
);

Deno.test({
  name: "svscan interop: Debian's multilog receives every line through our pipe",
  ignore: !haveDebian,
  fn: () =>
    withScan(async ({ dir, start }) => {
      const svc = await service(
        dir,
        "burst",
        "#!/bin/sh\nseq 1 20000\nexec sleep 1000\n",
        `#!/bin/sh\nexec ${D("multilog")} s1000000 ./main\n`,
      );
      start();
      await waitFor("20000 lines", () => readOr(`${svc}/log/main/current`).endsWith("\n20000\n"));
      const want = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join("");
      assertEquals(readOr(`${svc}/log/main/current`), want);
    }),
});

Deno.test({
  name: "svscan interop: a lock held by Debian's supervise is reported, retried, then adopted",
  ignore: !haveDebian,
  fn: () =>
    withScan(async ({ dir, start, defer }) => {
      const svc = await service(dir, "held", "#!/bin/sh\nexec sleep 1000\n");
      const sup = new Deno.Command(D("supervise"), {
        args: ["held"],
        cwd: dir,
        stdout: "null",
        stderr: "null",
      }).spawn();
      defer(async () => {
        try {
          sup.kill("SIGKILL");
        } catch {
          // gone
        }
        await sup.status;
      });
      const pid = await waitUp(svc);
      const scan = start();
      await scan.waitErr(
        "supervise: fatal: unable to acquire held/supervise/lock: temporary failure\n",
      );
      // Debian's supervise dies hard, its ./run keeps running: ours takes it over, no 2nd copy
      sup.kill("SIGKILL");
      await sup.status;
      await waitFor(
        "our svscan supervising held",
        async () => (await run(prog("svok"), [svc])).code === 0,
        15_000,
      );
      assertEquals(statusPid(svc), pid);
      assertEquals(processesUnder(svc), [pid]);
      assert(alive(pid));
      await run(D("svc"), ["-t", svc]);
      const again = await waitUp(svc, pid);
      assert(again !== pid);
    }),
});

/** One svscan of {@linkcode sideBySide}: its scratch directory and the running svscan. */
interface Side {
  dir: string;
  scan: Scan;
}

/**
 * Register test `name` (ignored without Debian's daemontools): two scratch trees made alike by
 * `setup`, Debian's svscan started on the one, ours on the other, each in its directory and
 * without an argument (so names print the same in both).
 */
function sideBySide(
  name: string,
  setup: (dir: string) => Promise<void>,
  fn: (deb: Side, ours: Side) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: !haveDebian,
    fn: () =>
      withScan((a) =>
        withScan(async (b) => {
          await setup(a.dir);
          await setup(b.dir);
          const deb = a.start({ cmd: D("svscan"), cwd: a.dir, args: [], path: "/usr/bin:/bin" });
          await fn({ dir: a.dir, scan: deb }, {
            dir: b.dir,
            scan: b.start({ cwd: b.dir, args: [] }),
          });
        })
      ),
  });
}

sideBySide(
  "svscan interop: same messages as Debian's svscan+supervise on bad directories",
  badTree,
  async ({ scan: deb }, { scan: ours }) => {
    const lines = (t: string) => [...new Set(t.split("\n").filter((l) => l))].sort();
    const want = [
      "supervise: fatal: unable to chdir to log: not a directory",
      "supervise: fatal: unable to start noexec/run: access denied",
      "supervise: fatal: unable to start norun/run: file does not exist",
      "supervise: fatal: unable to start rundir/run: access denied",
      "svscan: warning: unable to stat dangling: file does not exist",
      "svscan: warning: unable to stat loop1: symbolic link loop",
      "svscan: warning: unable to stat loop2: symbolic link loop",
    ];
    await waitFor("Debian's messages", () => lines(deb.err).length >= want.length);
    await waitFor("our messages", () => lines(ours.err).length >= want.length);
    assertEquals(lines(deb.err), want);
    assertEquals(lines(ours.err), want);
  },
);

/** Debian's svstat on `\xefbin` and `s\xff` in `dir`, as bytes (the names given as bytes). */
async function svstatBytes(dir: string): Promise<Uint8Array> {
  const r = await new Deno.Command("sh", {
    args: [
      "-c",
      `cd "$1" && exec "$2" "$(printf '\\357bin')" "$(printf 's\\377')"`,
      "sh",
      dir,
      D("svstat"),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return cat(r.stdout, r.stderr);
}

sideBySide(
  "svscan interop: names that are not UTF-8: started by ours as by Debian's svscan",
  bytesTree,
  async (a, b) => {
    for (const t of [a, b]) {
      await waitFor(
        `both runs in ${t.dir}`,
        () => exists(`${t.dir}/ef.started`) && exists(`${t.dir}/ff.started`),
      );
    }
    // Debian's svstat shows both up, under their bytes, for either svscan
    const want = "\\xefbin: up (pid P) S seconds\ns\\xff: up (pid P) S seconds\n";
    const shown = async (dir: string) =>
      maskStatus(decode(await svstatBytes(dir))).replace(
        /[\udc80-\udcff]/g,
        (c) => `\\x${(c.charCodeAt(0) - 0xdc00).toString(16)}`,
      );
    await waitFor("Debian's svscan: both up", async () => (await shown(a.dir)) === want);
    assertEquals(await shown(b.dir), await shown(a.dir));
    // the same warning, with the name's byte, from both
    const warning = cat(
      "svscan: warning: unable to stat d",
      new Uint8Array([0xfe]),
      ": file does not exist\n",
    );
    await waitFor("Debian's warning", () => hasBytes(a.scan.errBytes, warning));
    await waitFor("our warning", () => hasBytes(b.scan.errBytes, warning));
  },
);

sideBySide(
  "svscan interop: a status that is a FIFO or /dev/zero: started as by Debian's svscan",
  stallTree,
  async (a, b) => {
    const names = ["fifo", "good", "zero"];
    const shown = async (dir: string) =>
      maskStatus((await run(D("svstat"), names, { cwd: dir })).stdout);
    const want = names.map((n) => `${n}: up (pid P) S seconds\n`).join("");
    await waitFor("Debian's svscan: all up", async () => (await shown(a.dir)) === want);
    await waitFor("ours: all up", async () => (await shown(b.dir)) === want);
    for (const t of [a, b]) {
      for (const n of names) await waitFor(`${n}'s run`, () => exists(`${t.dir}/${n}.started`));
    }
  },
);

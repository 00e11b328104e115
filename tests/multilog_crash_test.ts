/**
 * multilog under signals, crashes and failures: real processes fed through a FIFO the test
 * holds open, bounded polling for every state.
 */
import { assert, assertEquals } from "./assert.ts";
import { differential, same, tree } from "./fixtures.ts";
import { readOr as read, run, waitFor } from "./util.ts";
import {
  drainFifo,
  type Fed,
  fed,
  oldFiles,
  ours,
  runWithFile,
  snapshot,
  stopFed,
  storedLines,
} from "./multilog_util.ts";

const modeOf = (p: string) => (Deno.statSync(p).mode ?? 0) & 0o777;
const lines = (from: number, to: number) => {
  let s = "";
  for (let i = from; i < to; i++) s += `line ${i} ${"x".repeat(i % 50)}\n`;
  return s;
};
const list = (s: string) => s.split("\n").slice(0, -1);

Deno.test("multilog: SIGKILL mid-stream, restart: current recovered as .u, nothing lost", async () => {
  await using t = await tree();
  const dir = t.root;
  const a = await fed(ours(), ["./d"], dir);
  t.defer(() => stopFed(a));
  a.write(lines(0, 100));
  await waitFor("100 lines in current", () => read(`${dir}/d/current`) === lines(0, 100));
  assertEquals(modeOf(`${dir}/d/current`), 0o644);
  a.kill("SIGKILL");
  await a.done();
  // more lines arrive while no logger runs: they wait in the pipe
  a.write(lines(100, 150));
  const b = await fed(ours(), ["./d"], dir);
  t.defer(() => stopFed(b));
  await waitFor("the pipe drained", () => read(`${dir}/d/current`) === lines(100, 150));
  const old = oldFiles(`${dir}/d`);
  assertEquals(old.length, 1);
  assert(/^@[0-9a-f]{24}\.u$/.test(old[0]), old[0]);
  assertEquals(read(`${dir}/d/${old[0]}`), lines(0, 100));
  assertEquals(modeOf(`${dir}/d/${old[0]}`), 0o644); // never chmod'ed: crash evidence
  b.kill("SIGTERM");
  assertEquals((await b.done()).code, 0);
  assertEquals(storedLines(`${dir}/d`), list(lines(0, 150)));
  assertEquals(modeOf(`${dir}/d/current`), 0o744);
});

differential(
  "multilog vs Debian: crash recovery of current, previous and processed",
  ["multilog"],
  async () => {
    const snap = await same("multilog", async (bin) => {
      await using t = await tree();
      const dir = t.root;
      // a crash mid-rotation leaves previous (and maybe processed) behind
      for (const [name, mode] of [["previous", 0o744], ["processed", 0o644]] as const) {
        Deno.mkdirSync(`${dir}/d`, { recursive: true });
        Deno.writeTextFileSync(`${dir}/d/current`, "cur\n", { mode: 0o644 });
        Deno.chmodSync(`${dir}/d/current`, 0o644);
        Deno.writeTextFileSync(`${dir}/d/${name}`, `${name}\n`);
        Deno.chmodSync(`${dir}/d/${name}`, mode);
        Deno.writeTextFileSync(`${dir}/d/state`, "old state\n");
        Deno.writeTextFileSync(`${dir}/d/newstate`, "new state\n");
        Deno.writeTextFileSync(`${dir}/input`, "");
        const r = await runWithFile(bin, ["./d"], dir, `${dir}/input`);
        assertEquals(r.code, 0, r.stderr);
      }
      // processed with the x bit means the processor finished: it is kept, previous dropped
      Deno.writeTextFileSync(`${dir}/d/previous`, "previous again\n");
      Deno.writeTextFileSync(`${dir}/d/processed`, "processed done\n");
      Deno.chmodSync(`${dir}/d/processed`, 0o744);
      Deno.chmodSync(`${dir}/d/current`, 0o644);
      const r = await runWithFile(bin, ["./d"], dir, `${dir}/input`);
      assertEquals(r.code, 0, r.stderr);
      return snapshot(`${dir}/d`);
    });
    assert(snap.includes("processed done"), snap);
    assert(!snap.includes("previous again"), snap);
  },
);

Deno.test("multilog: ALRM rotates every non-empty current at once, leaves empty ones", async () => {
  await using t = await tree();
  const dir = t.root;
  // ./a gets every line, ./b none
  const f = await fed(ours(), ["t", "./a", "-*", "./b"], dir);
  t.defer(() => stopFed(f));
  f.write("one\ntwo\n");
  await waitFor("two lines", () => list(read(`${dir}/a/current`)).length === 2);
  f.kill("SIGALRM");
  await waitFor("rotation", () => oldFiles(`${dir}/a`).length === 1);
  const [old] = oldFiles(`${dir}/a`);
  assert(old.endsWith(".s"), old);
  assertEquals(read(`${dir}/a/${old}`).replace(/@[0-9a-f]{24} /g, ""), "one\ntwo\n");
  assertEquals(modeOf(`${dir}/a/${old}`), 0o744);
  assertEquals(read(`${dir}/a/current`), "");
  assertEquals(oldFiles(`${dir}/b`), []);
  // idle, nothing new: a second ALRM finds both empty
  f.kill("SIGALRM");
  f.write("three\n");
  await waitFor("three", () => storedLines(`${dir}/a`).length === 3);
  f.kill("SIGTERM");
  assertEquals((await f.done()).code, 0);
  assertEquals(oldFiles(`${dir}/b`), []);
  assertEquals(read(`${dir}/b/current`), "");
  assertEquals(f.stderr(), "");
});

Deno.test("multilog: TERM mid-line finishes that line and leaves the rest unread", async () => {
  await using t = await tree();
  const dir = t.root;
  const f = await fed(ours(), ["./d"], dir);
  t.defer(() => stopFed(f));
  f.write("first\nabc"); // one write: read together, so "abc" is inside multilog once
  await waitFor("first line", () => read(`${dir}/d/current`) === "first\n");
  f.kill("SIGTERM");
  // ALRM as a fence: once its rotation shows, the TERM sent before it was handled too
  f.kill("SIGALRM");
  await waitFor("rotation", () => oldFiles(`${dir}/d`).length === 1);
  f.write("def\nghi\n");
  const st = await f.done();
  assertEquals(st.code, 0);
  assertEquals(read(`${dir}/d/current`), "abcdef\n");
  assertEquals(modeOf(`${dir}/d/current`), 0o744);
  assertEquals(drainFifo(`${dir}/in.fifo`), "ghi\n");
});

Deno.test("multilog: TERM while idle exits at once; HUP kills it (current stays 0644)", async () => {
  await using t = await tree();
  const dir = t.root;
  let f: Fed | undefined;
  t.defer(() => stopFed(f));
  f = await fed(ours(), ["./d"], dir);
  f.write("x\n");
  await waitFor("x", () => read(`${dir}/d/current`) === "x\n");
  f.kill("SIGTERM");
  assertEquals((await f.done()).code, 0);
  assertEquals(modeOf(`${dir}/d/current`), 0o744);
  await stopFed(f);
  f = await fed(ours(), ["./d"], dir);
  f.write("y\n");
  await waitFor("y", () => read(`${dir}/d/current`) === "x\ny\n");
  assertEquals(modeOf(`${dir}/d/current`), 0o644);
  f.kill("SIGHUP");
  assertEquals((await f.done()).signal, "SIGHUP");
  assertEquals(modeOf(`${dir}/d/current`), 0o644);
});

/** For each pair, `holder` logs to a directory: `second` on the same directory must fail. */
async function lockedOut(pairs: string[][]): Promise<void> {
  await using t = await tree();
  const dir = t.root;
  let f: Fed | undefined;
  t.defer(() => stopFed(f));
  for (const [i, [holder, second]] of pairs.entries()) {
    const d = `./d${i}`;
    f = await fed(holder, [d], dir);
    f.write("held\n");
    await waitFor("lock taken", () => read(`${dir}/${d}/current`) === "held\n");
    const r = await run(second, [d], { cwd: dir }); // fails before reading stdin
    assertEquals(
      [r.code, r.stderr],
      [111, `multilog: fatal: unable to lock directory ${d}: temporary failure\n`],
      `${holder} holding, ${second} second`,
    );
    await stopFed(f);
    f = undefined;
  }
}

Deno.test("multilog: a locked directory is fatal for the second logger", async () => {
  await lockedOut([[ours(), ours()]]);
});

differential(
  "multilog vs Debian: a directory locked by either is fatal for the other",
  ["multilog"],
  async ({ multilog }) => {
    await lockedOut([[multilog, ours()], [ours(), multilog]]);
  },
);

Deno.test("multilog: a failing processor is retried after 5 s; nothing is lost", async () => {
  await using t = await tree();
  const dir = t.root;
  // fails on its first run only
  const proc = "if [ -e ../failed ]; then cat; else : > ../failed; exit 3; fi";
  let input = "";
  for (let i = 0; i < 300; i++) input += `${i} ${"p".repeat(30)}\n`;
  Deno.writeTextFileSync(`${dir}/input`, input);
  const r = await runWithFile(ours(), ["s4096", "n100", `!${proc}`, "./d"], dir, `${dir}/input`);
  assertEquals(r.code, 0);
  assertEquals(r.stderr, "multilog: warning: processor failed in ./d, pausing\n");
  assertEquals(storedLines(`${dir}/d`), list(input));
  for (const n of oldFiles(`${dir}/d`)) assert(n.endsWith(".s"), n);
  assert(oldFiles(`${dir}/d`).length >= 3);
});

/** Whether this process may mount a tmpfs (root, not in a locked-down container). */
function canMountTmpfs(): boolean {
  const probe = Deno.makeTempDirSync({ prefix: "dt-mnt-probe-" });
  const sh = (args: string[]) =>
    new Deno.Command(args[0], { args: args.slice(1), stdout: "null", stderr: "null" })
      .outputSync().success;
  try {
    if (!sh(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe])) return false;
    sh(["umount", probe]);
    return true;
  } catch {
    return false;
  } finally {
    Deno.removeSync(probe, { recursive: true });
  }
}

Deno.test({
  name: "multilog: disk full pauses and resumes without losing a line",
  ignore: !canMountTmpfs(),
  fn: diskFull,
});

async function diskFull(ctx: Deno.TestContext) {
  await using t = await tree();
  const dir = t.root;
  const mnt = `${dir}/mnt`;
  Deno.mkdirSync(mnt);
  const m = await run("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt]);
  assertEquals(m.code, 0, `mount: ${m.stderr}`);
  t.defer(async () => void await run("umount", [mnt]));
  // leave about 40 KiB free
  const filler = new Uint8Array(200 * 1024);
  Deno.writeFileSync(`${mnt}/filler`, filler);
  const f = await fed(ours(), ["s16777215", "./mnt/d"], dir);
  t.defer(() => stopFed(f));
  const input = lines(0, 2000); // ~ 60 KiB
  f.write(input);
  await waitFor("the pause warning", () => f.stderr().length > 0);
  assertEquals(
    f.stderr().split("\n")[0],
    "multilog: warning: unable to write to ./mnt/d/current, pausing: out of disk space",
  );
  await ctx.step("space comes back: the rest is written", async () => {
    Deno.removeSync(`${mnt}/filler`);
    await waitFor("every line", () => read(`${mnt}/d/current`) === input, 15_000);
  });
  f.kill("SIGTERM");
  assertEquals((await f.done()).code, 0);
  assertEquals(storedLines(`${mnt}/d`), list(input));
}

differential(
  "multilog vs Debian: a processor killed by a signal: same warnings, same files",
  ["multilog"],
  async ({ multilog }) => {
    const proc = "if [ -e ../crashed ]; then cat; else : > ../crashed; kill -9 $$; fi";
    let input = "";
    for (let i = 0; i < 600; i++) input += `${i} abcdefghijabcdefghij\n`;
    const one = async (bin: string) => {
      await using t = await tree();
      Deno.writeTextFileSync(t.path("input"), input);
      const r = await runWithFile(bin, ["s4096", `!${proc}`, "./d"], t.root, t.path("input"));
      return { code: r.code, stderr: r.stderr, snap: snapshot(t.path("d")) };
    };
    // both at once (not same(): one after the other): each sits through 0.76's two 5-second pauses
    const [o, d] = await Promise.all([one(ours()), one(multilog)]);
    assertEquals(
      o.stderr,
      "multilog: warning: processor crashed in ./d, pausing: file does not exist\n" +
        "multilog: warning: processor failed in ./d, pausing\n",
    );
    assertEquals(o, d);
  },
);

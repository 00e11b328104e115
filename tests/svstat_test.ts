/**
 * svstat against hand-made service directories: a `supervise/ok` FIFO whose
 * reader the test holds (so "supervise is running") and status files written
 * with lib/status.ts. Every state is compared with the expected text always, and
 * byte for byte with Debian's svstat on the same directories in each test's
 * "[vs Debian]" twin (ignored without it).
 */
import { encodeStatus } from "../lib/status.ts";
import { fromUnix } from "../lib/tai64n.ts";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { compare, differential, type FakeStatus, tree, versus } from "./fixtures.ts";
import { mkfifo, prog, run } from "./util.ts";

versus("svstat: every supervised state, suffixes in 0.76's order", ["svstat"], async (vs) => {
  await using t = await tree();
  const cases: [string, FakeStatus, string][] = [
    ["up", { pid: 1234, want: "u" }, "up (pid 1234) 0 seconds"],
    ["down", { pid: 0, want: "d" }, "down 0 seconds, normally up"],
    ["downfile", { pid: 0, want: "d", down: true }, "down 0 seconds"],
    ["upnd", { pid: 77, want: "u", down: true }, "up (pid 77) 0 seconds, normally down"],
    ["paused", { pid: 5, want: "u", paused: true }, "up (pid 5) 0 seconds, paused"],
    ["wantup", { pid: 0, want: "u" }, "down 0 seconds, normally up, want up"],
    ["wantupnd", { pid: 0, want: "u", down: true }, "down 0 seconds, want up"],
    ["wantdown", { pid: 9, want: "d" }, "up (pid 9) 0 seconds, want down"],
    [
      "all",
      { pid: 6980, want: "d", paused: true, down: true },
      "up (pid 6980) 0 seconds, normally down, paused, want down",
    ],
    ["once", { pid: 42, want: 0 }, "up (pid 42) 0 seconds"],
    ["oncedown", { pid: 0, want: 0 }, "down 0 seconds, normally up"],
    ["bigpid", { pid: 0xffffffff, want: "u" }, "up (pid 4294967295) 0 seconds"],
  ];
  for (const [name, st] of cases) await t.supervised(name, st);
  const r = await vs.run("svstat", cases.map(([n]) => n), { cwd: t.root });
  assertEquals(r.stdout, cases.map(([n, , want]) => `${n}: ${want}\n`).join(""));
  assertEquals([r.code, r.stderr], [0, ""]);
});

Deno.test("svstat: seconds = now - stamp, nanoseconds ignored", async () => {
  await using t = await tree();
  const stamp = Math.floor(Date.now() / 1000) - 1000;
  await t.supervised("s", { pid: 3, want: "u", stampUnix: stamp });
  const before = Math.floor(Date.now() / 1000);
  const r = await run(prog("svstat"), ["s"], { cwd: t.root });
  const after = Math.floor(Date.now() / 1000);
  const m = /^s: up \(pid 3\) (\d+) seconds\n$/.exec(r.stdout);
  assert(m, r.stdout);
  const secs = Number(m[1]);
  assert(
    secs >= before - stamp && secs <= after - stamp,
    `${secs} not in [${before - stamp}, ${after - stamp}]`,
  );
});

versus(
  "svstat: missing, never supervised, not running, not a directory",
  ["svstat"],
  async (vs) => {
    await using t = await tree();
    await Deno.mkdir(t.path("new"));
    await Deno.mkdir(t.path("dead/supervise"), { recursive: true });
    mkfifo(t.path("dead/supervise/ok"));
    await Deno.writeTextFile(t.path("file"), "x");
    await Deno.mkdir(t.path("okfile/supervise"), { recursive: true });
    await Deno.writeTextFile(t.path("okfile/supervise/ok"), "");
    const r = await vs.run("svstat", [
      "nonexistent",
      "new",
      "dead",
      "file",
      "okfile",
      t.path("new"),
      "-x", // no options: every argument is a DIR
      "--",
    ], { cwd: t.root });
    assertEquals(
      r.stdout,
      "nonexistent: unable to chdir: file does not exist\n" +
        "new: unable to open supervise/ok: file does not exist\n" +
        "dead: supervise not running\n" +
        "file: unable to chdir: not a directory\n" +
        // a regular file named ok counts as a running supervise
        "okfile: unable to open supervise/status: file does not exist\n" +
        `${t.path("new")}: unable to open supervise/ok: file does not exist\n` +
        "-x: unable to chdir: file does not exist\n" +
        "--: unable to chdir: file does not exist\n",
    );
    assertEquals([r.code, r.stderr], [0, ""]);
  },
);

versus("svstat: no arguments prints nothing, exit 0", ["svstat"], async (vs) => {
  const r = await vs.run("svstat", [], { cwd: "/" });
  assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
});

versus("svstat: truncated, longer, and symlink-loop inputs", ["svstat"], async (vs) => {
  await using t = await tree();
  for (const n of ["empty", "short", "long", "loop"]) await t.supervised(n);
  const full = encodeStatus({
    stamp: fromUnix(4_000_000_000n),
    pid: 8,
    paused: false,
    want: "u",
  });
  await Deno.writeFile(t.path("empty/supervise/status"), new Uint8Array());
  await Deno.writeFile(t.path("short/supervise/status"), full.subarray(0, 17));
  // extra bytes (an encore 20-byte file) are ignored
  await Deno.writeFile(t.path("long/supervise/status"), new Uint8Array([...full, 1, 2]));
  await Deno.writeFile(t.path("loop/supervise/status"), full);
  await Deno.symlink("down", t.path("loop/down"));
  const r = await vs.run("svstat", ["empty", "short", "long", "loop"], { cwd: t.root });
  assertEquals(
    r.stdout,
    "empty: unable to read supervise/status: bad format\n" +
      "short: unable to read supervise/status: bad format\n" +
      "long: up (pid 8) 0 seconds\n" +
      "loop: unable to stat down: symbolic link loop\n",
  );
});

versus(
  "svstat: status replaced by a directory decodes stale data (0.76's EISDIR quirk)",
  ["svstat"],
  async (vs) => {
    await using t = await tree();
    await t.supervised("good", { pid: 4321, want: "d", paused: true });
    for (const n of ["isdir", "isdir2"]) {
      await t.supervised(n);
      await Deno.mkdir(t.path(`${n}/supervise/status`));
    }
    await Deno.writeFile(t.path("isdir2/down"), new Uint8Array());
    // first DIR: nothing read yet, so all zeros: stamp 0 -> a huge "seconds" (via a double)
    const before = BigInt(Math.floor(Date.now() / 1000));
    const r = await vs.run("svstat", ["isdir", "good", "isdir2"], { cwd: t.root });
    const after = BigInt(Math.floor(Date.now() / 1000));
    const lines = r.stdout.split("\n");
    const m = /^isdir: down (\d+) seconds, normally up$/.exec(lines[0]);
    assert(m, lines[0]);
    const tai = (unix: bigint) => BigInt(Number((1n << 62n) + 10n + unix));
    assert([tai(before), tai(after)].includes(BigInt(m[1])), m[1]);
    // later DIRs decode the previous DIR's bytes
    assertEquals(lines.slice(1), [
      "good: up (pid 4321) 0 seconds, paused, want down",
      "isdir2: up (pid 4321) 0 seconds, normally down, paused, want down",
      "",
    ]);
  },
);

versus(
  "svstat: a partial read still overwrites the start of the buffer",
  ["svstat"],
  async (vs) => {
    await using t = await tree();
    await t.supervised("a", { pid: 0x01020304, want: "u" });
    await t.supervised("b");
    await t.supervised("c");
    // 14 bytes: the stamp and the low half of the pid are replaced
    const b = encodeStatus({
      stamp: fromUnix(4_000_000_001n),
      pid: 0x0000ffff,
      paused: false,
      want: "d",
    });
    await Deno.writeFile(t.path("b/supervise/status"), b.subarray(0, 14));
    await Deno.mkdir(t.path("c/supervise/status"));
    const r = await vs.run("svstat", ["a", "b", "c"], { cwd: t.root });
    assertEquals(
      r.stdout,
      `a: up (pid ${0x01020304}) 0 seconds\n` +
        "b: unable to read supervise/status: bad format\n" +
        `c: up (pid ${0x0102ffff}) 0 seconds\n`,
    );
  },
);

differential(
  "svstat: access denied for a non-root account (setuidgid nobody)",
  ["setuidgid", "svstat"],
  async ({ setuidgid }) => {
    await using t = await tree();
    const via = [setuidgid, "nobody"];
    await Deno.chmod(t.root, 0o755);
    await Deno.chmod(prog("svstat").replace(/\/svstat$/, ""), 0o755);
    await Deno.mkdir(t.path("closed"), { mode: 0o700 });
    await t.supervised("okdenied", { pid: 1, want: "u" });
    await Deno.chmod(t.path("okdenied/supervise/ok"), 0o600);
    await Deno.chmod(t.path("okdenied/supervise"), 0o755);
    await t.supervised("stdenied", { pid: 1, want: "u" });
    await Deno.chmod(t.path("stdenied/supervise/ok"), 0o622);
    await Deno.chmod(t.path("stdenied/supervise/status"), 0o600);
    await Deno.chmod(t.path("stdenied/supervise"), 0o755);
    await Deno.mkdir(t.path("downdenied/sub"), { recursive: true, mode: 0o711 });
    await Deno.chmod(t.path("downdenied"), 0o600);
    const ours = await compare("svstat", ["closed", "okdenied", "stdenied", "downdenied/sub"], {
      cwd: t.root,
      via,
    });
    assertEquals(
      ours.stdout,
      "closed: unable to chdir: access denied\n" +
        "okdenied: unable to open supervise/ok: access denied\n" +
        "stdenied: unable to open supervise/status: access denied\n" +
        "downdenied/sub: unable to chdir: access denied\n",
    );

    // an unreadable current directory is fatal
    await Deno.chmod(t.path("closed"), 0o711);
    const o2 = await compare("svstat", ["x"], { cwd: t.path("closed"), via });
    assertEquals([o2.code, o2.stdout, o2.stderr], [
      111,
      "",
      "svstat: fatal: unable to open current directory: access denied\n",
    ]);
  },
);

versus("svstat: output is one line per DIR even for many DIRs", ["svstat"], async (vs) => {
  await using t = await tree();
  const names: string[] = [];
  for (let i = 0; i < 300; i++) {
    names.push(`s${i}`);
    await t.supervised(`s${i}`, { pid: 100 + i, want: "u" });
  }
  const r = await vs.run("svstat", names, { cwd: t.root });
  const lines = r.stdout.split("\n");
  assertEquals(lines.length, 301);
  lines.slice(0, 300).forEach((l, i) =>
    assertMatch(l, new RegExp(`^s${i}: up \\(pid ${100 + i}\\) 0 seconds$`))
  );
});

versus("svstat: stdout without a reader: killed by SIGPIPE like 0.76", ["svstat"], async (vs) => {
  await using t = await tree();
  // fd 4 is a FIFO whose only reader (fd 3) is closed before svstat writes
  const r = await vs.same("svstat", async (svstat) => {
    const body = `rm -f f; mkfifo f; exec 3<>f; exec 4>f; exec 3<&-; ` +
      `"$0" missing >&4; echo $?; "$0" >&4; echo $?`;
    const r = await run("sh", ["-c", body, svstat], { cwd: t.root });
    return [r.code, r.stdout, r.stderr];
  });
  assertEquals(r, [0, "141\n0\n", ""]);
});

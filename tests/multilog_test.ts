/**
 * multilog: the script language, log directory layout and rotation. Differential tests run
 * the same script on the same input (stdin from a file, so 0.76's 1024-byte reads are
 * deterministic) through ours and Debian's multilog and compare the directories byte for
 * byte after masking stamps (ignored without Debian's multilog).
 */
import { assert, assertEquals } from "./assert.ts";
import { differential, same, tree, versus, versusTree } from "./fixtures.ts";
import { run } from "./util.ts";
import {
  maskStamps,
  mixedInput,
  ours,
  runWithFile,
  snapshot,
  storedLines,
} from "./multilog_util.ts";

const LENGTHS = [0, 1, 5, 50, 100, 300, 600, 973, 974, 975, 999, 1000, 1001, 1500, 2500, 5000];
const enc = new TextEncoder();

/**
 * Run a script through our multilog, then Debian's, each in a scratch dir: the directories in
 * `inspect` (masked snapshots) and stderr (stamps masked) must be the same. Returns ours.
 */
function both(
  script: string[],
  input: Uint8Array,
  inspect: string[] = ["d"],
): Promise<{ snap: string; err: string }> {
  return same("multilog", async (bin) => {
    await using t = await tree();
    Deno.writeFileSync(t.path("input"), input);
    const r = await runWithFile(bin, script, t.root, t.path("input"));
    assertEquals(r.code, 0, `${bin}: ${r.stderr}`);
    const snap = inspect.map((d) => `# ${d}\n${snapshot(t.path(d))}`).join("");
    return { snap, err: maskStamps(r.stderr) };
  });
}

const diff = (name: string, fn: () => Promise<void>) =>
  differential(`multilog vs Debian: ${name}`, ["multilog"], fn);

diff("t s4096: same files, sizes, contents (long lines, partial last line)", async () => {
  const r = await both(["t", "s4096", "n1000", "./d"], mixedInput(1, 1500, LENGTHS));
  assert(r.snap.split("\n== @STAMP.s").length > 100, "expected many rotations");
});

diff("no stamps, s5000 n3: at most 2 old files, same cut points", async () => {
  const r = await both(["s5000", "n3", "./d"], mixedInput(2, 3000, LENGTHS));
  assertEquals(r.snap.match(/== @STAMP/g)?.length, 2);
});

diff("100-byte lines into s16777215-like small files: whole lines per file", async () => {
  await both(["t", "s10000", "n20", "./d"], mixedInput(3, 3000, [74]));
});

diff("patterns select lines per directory; e shows the selected ones", async () => {
  const r = await both(
    ["-*:*a*", "+1*", "./a", "s4096", "-*", "+*7", "e", "./b", "+*", "-*z", "./c"],
    mixedInput(4, 2000, [3, 10, 40, 120, 999, 1200]),
    ["a", "b", "c"],
  );
  assert(r.err.length > 0);
});

diff("=file keeps the last selected line in 1001 bytes", async () => {
  for (const input of ["one\ntwo\n", "a\n" + "x".repeat(1500) + "\n", "last without newline"]) {
    await same("multilog", async (bin) => {
      await using t = await tree();
      Deno.writeTextFileSync(t.path("input"), input);
      const r = await runWithFile(bin, ["=f", "-x*", "=g"], t.root, t.path("input"));
      assertEquals(r.code, 0);
      const f = Deno.readFileSync(t.path("f"));
      const g = Deno.readFileSync(t.path("g"));
      assertEquals(f.length, 1001);
      assertEquals((Deno.statSync(t.path("f")).mode ?? 0) & 0o777, 0o600);
      return new Uint8Array([...f, ...g]);
    });
  }
});

diff("processor: fd 0 previous, fd 1 processed, fd 4 state, fd 5 newstate", async () => {
  const r = await both(
    ["s4096", "n4", "!tr a-z A-Z; echo begin >&5; cat <&4 >&5; echo end >&5", "./d"],
    mixedInput(5, 400, [20, 30, 200]),
  );
  assert(r.snap.includes("== state 644"), r.snap);
});

diff("restart after a clean exit appends to current and counts its size", async () => {
  await same("multilog", async (bin) => {
    await using t = await tree();
    for (let i = 0; i < 3; i++) {
      Deno.writeFileSync(t.path("input"), mixedInput(10 + i, 60, [30, 60]));
      const r = await runWithFile(bin, ["s4096", "n10", "./d"], t.root, t.path("input"));
      assertEquals(r.code, 0);
    }
    return snapshot(t.path("d"));
  });
});

diff("sizes and counts are clamped: s1 -> 4096, n1 -> 2, s99999999999 -> 16777215", async () => {
  await both(["s1", "n1", "./d", "s99999999999", "./e"], mixedInput(6, 800, [50]), ["d", "e"]);
});

versus("multilog: e prints at most 200 bytes then ...", ["multilog"], async (vs) => {
  const line = (n: number) => "x".repeat(n);
  const stdin = `${line(199)}\n${line(200)}\n${line(201)}\n`;
  const r = await vs.run("multilog", ["e"], { stdin });
  assertEquals(r.code, 0);
  assertEquals(r.stderr, `${line(199)}\n${line(200)}\n${line(200)}...\n`);
});

versus(
  "multilog: 0.76 patterns (literal, *C runs, trailing *, empty)",
  ["multilog"],
  async (vs) => {
    const lines = ["one", "onex", "one two", "x one", "x y one", "", "two", "*", "o"];
    const cases: [string, string[]][] = [
      ["one", ["one"]],
      ["one*", ["one", "onex", "one two"]],
      ["* one", ["x one"]],
      ["* * one", ["x y one"]],
      ["*", lines],
      ["", [""]],
      ["*o", ["two", "o"]],
      ["o*", ["one", "onex", "one two", "o"]],
    ];
    for (const [pat, want] of cases) {
      const r = await vs.run("multilog", ["-*", `+${pat}`, "e"], {
        stdin: lines.join("\n") + "\n",
      });
      assertEquals(r.stderr, want.map((l) => l + "\n").join(""), `pattern ${pat}`);
    }
  },
);

Deno.test("multilog: only the first 1000 bytes (stamp included) are matched", async () => {
  // Z at byte 1000 of the line matches `*Z*`; at byte 1001 it does not
  const at = (k: number) => "a".repeat(k - 1) + "Z" + "b".repeat(20);
  const r = await run(ours(), ["-*", "+*Z*", "e"], { stdin: `${at(1000)}\n${at(1001)}\n` });
  assertEquals(r.stderr, `${"a".repeat(200)}...\n`);
});

Deno.test("multilog: t stamps each line; a final partial line gets a newline", async () => {
  await using t = await tree();
  const r = await run(ours(), ["t", "./d"], { cwd: t.root, stdin: "one\n\nthree" });
  assertEquals(r.code, 0);
  const text = Deno.readTextFileSync(t.path("d/current"));
  assertEquals(maskStamps(text), "@STAMP one\n@STAMP \n@STAMP three\n");
  // `t` anywhere but first is ignored
  const r2 = await run(ours(), ["e", "t"], { cwd: t.root, stdin: "x\n" });
  assertEquals(r2.stderr, "x\n");
});

Deno.test("multilog: directory layout after EOF does not depend on the caller's umask", async () => {
  await using t = await tree();
  const r = await run("sh", ["-c", 'umask 077; exec "$0" ./d', ours()], {
    cwd: t.root,
    stdin: "hello\n",
  });
  assertEquals(r.code, 0);
  assertEquals(snapshot(t.path("d")), "== current 744 6\nhello\n== lock 600 0\n== state 644 0\n");
  assertEquals((Deno.statSync(t.path("d")).mode ?? 0) & 0o777, 0o700);
  assertEquals(storedLines(t.path("d")), ["hello"]);
});

versusTree("multilog: fatal errors before reading input, exit 111", ["multilog"], async (vs, t) => {
  Deno.writeTextFileSync(t.path("plain"), "");
  const cases: [string[], string][] = [
    [["=nodir/f"], "multilog: fatal: unable to create nodir/f: file does not exist\n"],
    [["./plain"], "multilog: fatal: unable to open directory ./plain: not a directory\n"],
    [["./a/b/c"], "multilog: fatal: unable to open directory ./a/b/c: file does not exist\n"],
  ];
  for (const [args, want] of cases) {
    // no stdin: it exits before reading (a pipe would see EPIPE)
    const r = await vs.run("multilog", args, { cwd: t.root });
    assertEquals([r.code, r.stderr], [111, want], args.join(" "));
  }
});

Deno.test("multilog: unknown actions are ignored; no actions prints nothing", async () => {
  const r = await run(ours(), ["xyz", "main", "T", ""], { stdin: "a\nb\n" });
  assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
  const big = enc.encode("y".repeat(300000) + "\n");
  const r2 = await run(ours(), [], { stdin: big });
  assertEquals(r2.code, 0);
});

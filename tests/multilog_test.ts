/**
 * multilog: the script language, log directory layout and rotation. Differential tests run
 * the same script on the same input (stdin from a file, so 0.76's 1024-byte reads are
 * deterministic) through Debian's multilog and ours and compare the directories byte for
 * byte after masking stamps.
 */
import { assert, assertEquals } from "./assert.ts";
import { run, scratch } from "./util.ts";
import {
  maskStamps,
  mixedInput,
  ours,
  runWithFile,
  snapshot,
  storedLines,
  theirs,
} from "./multilog_util.ts";

const LENGTHS = [0, 1, 5, 50, 100, 300, 600, 973, 974, 975, 999, 1000, 1001, 1500, 2500, 5000];
const enc = new TextEncoder();

/** Run a script through both multilogs in twin scratch dirs; return both snapshots. */
async function both(
  script: string[],
  input: Uint8Array,
  inspect: string[] = ["d"],
): Promise<{ ours: string; theirs: string; errOurs: string; errTheirs: string }> {
  const res: string[] = [];
  const errs: string[] = [];
  for (const bin of [ours(), theirs!]) {
    const dir = await scratch();
    try {
      Deno.writeFileSync(`${dir}/input`, input);
      const r = await runWithFile(bin, script, dir, `${dir}/input`);
      assertEquals(r.code, 0, `${bin}: ${r.stderr}`);
      errs.push(maskStamps(r.stderr));
      res.push(inspect.map((d) => `# ${d}\n${snapshot(`${dir}/${d}`)}`).join(""));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  return { ours: res[0], theirs: res[1], errOurs: errs[0], errTheirs: errs[1] };
}

const diff = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `multilog vs Debian: ${name}`, ignore: !theirs, fn });

diff("t s4096: same files, sizes, contents (long lines, partial last line)", async () => {
  const r = await both(["t", "s4096", "n1000", "./d"], mixedInput(1, 1500, LENGTHS));
  assert(r.ours.split("\n== @STAMP.s").length > 100, "expected many rotations");
  assertEquals(r.ours, r.theirs);
});

diff("no stamps, s5000 n3: at most 2 old files, same cut points", async () => {
  const r = await both(["s5000", "n3", "./d"], mixedInput(2, 3000, LENGTHS));
  assertEquals(r.ours.match(/== @STAMP/g)?.length, 2);
  assertEquals(r.ours, r.theirs);
});

diff("100-byte lines into s16777215-like small files: whole lines per file", async () => {
  const r = await both(["t", "s10000", "n20", "./d"], mixedInput(3, 3000, [74]));
  assertEquals(r.ours, r.theirs);
});

diff("patterns select lines per directory; e shows the selected ones", async () => {
  const r = await both(
    ["-*:*a*", "+1*", "./a", "s4096", "-*", "+*7", "e", "./b", "+*", "-*z", "./c"],
    mixedInput(4, 2000, [3, 10, 40, 120, 999, 1200]),
    ["a", "b", "c"],
  );
  assertEquals(r.ours, r.theirs);
  assertEquals(r.errOurs, r.errTheirs);
  assert(r.errOurs.length > 0);
});

diff("=file keeps the last selected line in 1001 bytes", async () => {
  for (const input of ["one\ntwo\n", "a\n" + "x".repeat(1500) + "\n", "last without newline"]) {
    const got: Uint8Array[] = [];
    for (const bin of [ours(), theirs!]) {
      const dir = await scratch();
      try {
        Deno.writeTextFileSync(`${dir}/input`, input);
        const r = await runWithFile(bin, ["=f", "-x*", "=g"], dir, `${dir}/input`);
        assertEquals(r.code, 0);
        const f = Deno.readFileSync(`${dir}/f`);
        const g = Deno.readFileSync(`${dir}/g`);
        assertEquals(f.length, 1001);
        assertEquals((Deno.statSync(`${dir}/f`).mode ?? 0) & 0o777, 0o600);
        got.push(new Uint8Array([...f, ...g]));
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
    assertEquals(got[0], got[1], JSON.stringify(input));
  }
});

diff("processor: fd 0 previous, fd 1 processed, fd 4 state, fd 5 newstate", async () => {
  const r = await both(
    ["s4096", "n4", "!tr a-z A-Z; echo begin >&5; cat <&4 >&5; echo end >&5", "./d"],
    mixedInput(5, 400, [20, 30, 200]),
  );
  assert(r.ours.includes("== state 644"), r.ours);
  assertEquals(r.ours, r.theirs);
});

diff("restart after a clean exit appends to current and counts its size", async () => {
  const res: string[] = [];
  for (const bin of [ours(), theirs!]) {
    const dir = await scratch();
    try {
      for (let i = 0; i < 3; i++) {
        Deno.writeFileSync(`${dir}/input`, mixedInput(10 + i, 60, [30, 60]));
        const r = await runWithFile(bin, ["s4096", "n10", "./d"], dir, `${dir}/input`);
        assertEquals(r.code, 0);
      }
      res.push(snapshot(`${dir}/d`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  assertEquals(res[0], res[1]);
});

diff("sizes and counts are clamped: s1 -> 4096, n1 -> 2, s99999999999 -> 16777215", async () => {
  const r = await both(
    ["s1", "n1", "./d", "s99999999999", "./e"],
    mixedInput(6, 800, [50]),
    ["d", "e"],
  );
  assertEquals(r.ours, r.theirs);
});

Deno.test("multilog: e prints at most 200 bytes then ...", async () => {
  const line = (n: number) => "x".repeat(n);
  const r = await run(ours(), ["e"], { stdin: `${line(199)}\n${line(200)}\n${line(201)}\n` });
  assertEquals(r.code, 0);
  assertEquals(r.stderr, `${line(199)}\n${line(200)}\n${line(200)}...\n`);
  if (theirs) {
    const d = await run(theirs, ["e"], { stdin: `${line(199)}\n${line(200)}\n${line(201)}\n` });
    assertEquals(r.stderr, d.stderr);
  }
});

Deno.test("multilog: 0.76 patterns (literal, *C runs, trailing *, empty)", async () => {
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
    const r = await run(ours(), ["-*", `+${pat}`, "e"], { stdin: lines.join("\n") + "\n" });
    assertEquals(r.stderr, want.map((l) => l + "\n").join(""), `pattern ${pat}`);
    if (theirs) {
      const d = await run(theirs, ["-*", `+${pat}`, "e"], { stdin: lines.join("\n") + "\n" });
      assertEquals(r.stderr, d.stderr, `pattern ${pat} vs Debian`);
    }
  }
});

Deno.test("multilog: only the first 1000 bytes (stamp included) are matched", async () => {
  // Z at byte 1000 of the line matches `*Z*`; at byte 1001 it does not
  const at = (k: number) => "a".repeat(k - 1) + "Z" + "b".repeat(20);
  const r = await run(ours(), ["-*", "+*Z*", "e"], { stdin: `${at(1000)}\n${at(1001)}\n` });
  assertEquals(r.stderr, `${"a".repeat(200)}...\n`);
});

Deno.test("multilog: t stamps each line; a final partial line gets a newline", async () => {
  const dir = await scratch();
  try {
    const r = await run(ours(), ["t", "./d"], { cwd: dir, stdin: "one\n\nthree" });
    assertEquals(r.code, 0);
    const text = Deno.readTextFileSync(`${dir}/d/current`);
    assertEquals(maskStamps(text), "@STAMP one\n@STAMP \n@STAMP three\n");
    // `t` anywhere but first is ignored
    const r2 = await run(ours(), ["e", "t"], { cwd: dir, stdin: "x\n" });
    assertEquals(r2.stderr, "x\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("multilog: directory layout after EOF does not depend on the caller's umask", async () => {
  const dir = await scratch();
  try {
    const r = await run("sh", ["-c", 'umask 077; exec "$0" ./d', ours()], {
      cwd: dir,
      stdin: "hello\n",
    });
    assertEquals(r.code, 0);
    assertEquals(snapshot(`${dir}/d`), "== current 744 6\nhello\n== lock 600 0\n== state 644 0\n");
    assertEquals((Deno.statSync(`${dir}/d`).mode ?? 0) & 0o777, 0o700);
    assertEquals(storedLines(`${dir}/d`), ["hello"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("multilog: fatal errors before reading input, exit 111", async () => {
  const dir = await scratch();
  try {
    Deno.writeTextFileSync(`${dir}/plain`, "");
    const cases: [string[], string][] = [
      [["=nodir/f"], "multilog: fatal: unable to create nodir/f: file does not exist\n"],
      [["./plain"], "multilog: fatal: unable to open directory ./plain: not a directory\n"],
      [["./a/b/c"], "multilog: fatal: unable to open directory ./a/b/c: file does not exist\n"],
    ];
    for (const [args, want] of cases) {
      // no stdin: it exits before reading (a pipe would see EPIPE)
      const r = await run(ours(), args, { cwd: dir });
      assertEquals([r.code, r.stderr], [111, want], args.join(" "));
      if (theirs) {
        const d = await run(theirs, args, { cwd: dir });
        assertEquals([r.code, r.stderr], [d.code, d.stderr], `Debian: ${args.join(" ")}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("multilog: unknown actions are ignored; no actions prints nothing", async () => {
  const r = await run(ours(), ["xyz", "main", "T", ""], { stdin: "a\nb\n" });
  assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
  const big = enc.encode("y".repeat(300000) + "\n");
  const r2 = await run(ours(), [], { stdin: big });
  assertEquals(r2.code, 0);
});

/** lib/options.ts: djb sgetopt semantics, checked word by word. */
import { getopt, optionProblemText, parseOptions } from "../lib/options.ts";
import { assertEquals } from "./assert.ts";

const dec = new TextDecoder();

Deno.test("options: clustered flags, in order, duplicates kept", () => {
  const p = getopt(["-uud", "-x", "dir1", "-t", "dir2"], "udopchaitkx");
  assertEquals(p.opts.map((o) => o.opt).join(""), "uudx");
  assertEquals(p.operands, ["dir1", "-t", "dir2"]);
  assertEquals(p.problem, undefined);
});

Deno.test("options: argument attached, separate, empty, or starting with -", () => {
  const p = getopt(
    ["-m100", "-o", "5", "-c", "", "-d", "-x", "-am7", "child", "arg"],
    "a:c:d:m:o:",
  );
  assertEquals(p.opts, [
    { opt: "m", arg: "100" },
    { opt: "o", arg: "5" },
    { opt: "c", arg: "" },
    { opt: "d", arg: "-x" },
    { opt: "a", arg: "m7" },
  ]);
  assertEquals(p.operands, ["child", "arg"]);
});

Deno.test("options: flags before an argument option in one cluster", () => {
  const p = getopt(["-nxfile", "prog"], "nNxXf:");
  assertEquals(p.opts, [{ opt: "n" }, { opt: "x" }, { opt: "f", arg: "ile" }]);
  assertEquals(p.operands, ["prog"]);
});

Deno.test("options: -- ends options and is consumed; so is any word starting with --", () => {
  assertEquals(getopt(["-u", "--", "-d"], "ud").operands, ["-d"]);
  assertEquals(getopt(["-u", "--foo", "-d"], "ud"), { opts: [{ opt: "u" }], operands: ["-d"] });
});

Deno.test("options: lone - and empty words are operands", () => {
  assertEquals(getopt(["-u", "-", "-d"], "ud").operands, ["-", "-d"]);
  assertEquals(getopt(["", "-d"], "ud").operands, ["", "-d"]);
  assertEquals(getopt([], "ud"), { opts: [], operands: [] });
});

Deno.test("options: illegal letter stops parsing, earlier options kept", () => {
  const p = getopt(["-uq", "-d"], "ud");
  assertEquals(p.problem, { kind: "illegal", letter: "q" });
  assertEquals(p.opts, [{ opt: "u" }]);
  // ':' is never a letter, even though it appears in the spec
  assertEquals(getopt(["-:"], "m:").problem, { kind: "illegal", letter: ":" });
});

Deno.test("options: missing argument at the end", () => {
  assertEquals(getopt(["-m"], "m:").problem, { kind: "missing", letter: "m" });
  assertEquals(getopt(["-pm"], "pm:").problem, { kind: "missing", letter: "m" });
});

Deno.test("options: problem texts are 0.76's, one byte for the letter", () => {
  assertEquals(
    dec.decode(optionProblemText("svc", { kind: "illegal", letter: "q" })),
    "svc: illegal option -- q\n",
  );
  assertEquals(
    dec.decode(optionProblemText("softlimit", { kind: "missing", letter: "m" })),
    "softlimit: option requires an argument -- m\n",
  );
  const b = optionProblemText("svc", { kind: "illegal", letter: "é" });
  assertEquals(b[b.length - 2], 0xc3);
  assertEquals(b[b.length - 1], 10);
});

Deno.test("options: parseOptions returns the parse when there is no problem", () => {
  assertEquals(parseOptions("svc", ["-u", "d"], "ud"), { opts: [{ opt: "u" }], operands: ["d"] });
});

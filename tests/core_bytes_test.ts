/**
 * Issue 14 in supervise, svscan's services, multilog and readproctitle: bytes in, bytes out
 * (environment, patterns, directory names, argument lengths) and no service that can stall
 * the others on the shared reactor. Each case is checked against the bytes Debian's 0.76
 * produces where it is installed (reported as ignored where it is not).
 *
 * Arguments that are not UTF-8 reach a program as strings decoded losslessly (lib/bytes.ts).
 * The `(logic)` tests hand them to the program's `main` that way in a child Deno process, so
 * they test this code alone; the `(launcher)` tests go through the built launcher, whose
 * decoding of argv is main.ts's.
 */
import { assert, assertEquals } from "./assert.ts";
import { cleanup, Scan } from "./svscan_util.ts";
import { alive, debian, prog, root, scratch, statusPid, waitFor } from "./util.ts";
import { decode } from "../lib/bytes.ts";
import { match } from "../lib/multilog/match.ts";
import { parseScript } from "../lib/multilog/script.ts";
import { getopt, optionProblemText } from "../lib/options.ts";

const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);

/**
 * Run `sh -c script arg0` in `cwd` (non-UTF-8 bytes are written with printf escapes, as no
 * Deno API takes them), with an empty environment but PATH.
 */
async function sh(script: string, cwd: string, arg0 = "sh"): Promise<Deno.CommandOutput> {
  return await new Deno.Command("/bin/sh", {
    args: ["-c", script, arg0],
    cwd,
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/**
 * Run our program `name`'s `main` in a child Deno process with `args` given as bytes (decoded
 * losslessly, as main.ts hands them over once it reads argv raw); stdin from `stdin`.
 */
async function runMain(
  name: string,
  args: Uint8Array[],
  cwd: string,
  stdin = "",
): Promise<Deno.CommandOutput> {
  const driver = `${cwd}/.driver.ts`;
  await Deno.writeTextFile(
    driver,
    `import { decode } from "${root}/lib/bytes.ts";\n` +
      `const { main } = await import("${root}/cmd/${name}.ts");\n` +
      `const args = JSON.parse(Deno.args[0]).map((a: number[]) => decode(new Uint8Array(a)));\n` +
      `const code = await main(args);\n` +
      `Deno.exit(typeof code === "number" ? code : 0);\n`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-config",
      "--no-lock",
      "--quiet",
      driver,
      JSON.stringify(
        args.map((a) => [...a]),
      ),
    ],
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(bytes(stdin));
  await w.close();
  return await child.output();
}

// ---------------------------------------------------------------- item 1: no stall

/** The tree of issue 14 item 1: `good` and `zero` (whose control is /dev/zero). */
async function stallTree(): Promise<string> {
  const dir = await scratch("dt-stall-");
  for (const n of ["good", "zero"]) {
    await Deno.mkdir(`${dir}/${n}/supervise`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${n}/run`, "#!/bin/sh\nexec sleep 1000\n");
    await Deno.chmod(`${dir}/${n}/run`, 0o755);
  }
  await Deno.symlink("/dev/zero", `${dir}/zero/supervise/control`);
  return dir;
}

/** Kill good's child and wait until the service runs a new one. */
async function restartsGood(dir: string): Promise<void> {
  const up = (not: number) => () => {
    const p = statusPid(`${dir}/good`);
    return p && p !== not && alive(p) ? p : 0;
  };
  const first = await waitFor("good up", up(0));
  await waitFor("zero up", () => alive(statusPid(`${dir}/zero`)));
  Deno.kill(first, "SIGKILL");
  await waitFor("good restarted", up(first), 10_000);
}

Deno.test("14.1: a control that never drains (/dev/zero) does not stall svscan's other services", async () => {
  const dir = await stallTree();
  const scan = new Scan(".", { cwd: dir });
  try {
    await restartsGood(dir);
    const st = await scan.stop("SIGTERM", 10_000);
    assertEquals([st.code, st.signal], [0, null]); // TERM handled, not SIGKILL'ed
  } finally {
    await cleanup(dir, scan);
  }
});

Deno.test({
  name: "14.1: Debian's svscan with the same tree restarts good (reference)",
  ignore: !debian("svscan"),
  fn: async () => {
    const dir = await stallTree();
    const scan = new Scan(".", { cwd: dir, cmd: debian("svscan"), path: "/usr/bin:/bin" });
    try {
      await restartsGood(dir);
    } finally {
      await cleanup(dir, scan);
    }
  },
});

// ---------------------------------------------------------------- item 3: environment

/** What `./run` (= /usr/bin/env) prints first under `supervise` started in `env -i ...`. */
async function envUnder(supervise: string): Promise<Uint8Array> {
  const dir = await scratch("dt-env-");
  try {
    await Deno.mkdir(`${dir}/e2`);
    await Deno.symlink("/usr/bin/env", `${dir}/e2/run`); // no shell in between to filter
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        `exec env -i PATH=/bin "X=$(printf 'v\\377')" "$(printf 'Y\\376')=1" W=ok "$0" e2 >out`,
        supervise,
      ],
      cwd: dir,
      stdin: "null",
    }).spawn();
    try {
      const out = await waitFor("env output", () => {
        const b = Deno.readFileSync(`${dir}/out`);
        const end = latin1(b).indexOf("W=ok\n");
        return end < 0 ? undefined : b.subarray(0, end + 5);
      });
      return out;
    } finally {
      child.kill("SIGTERM"); // supervise dies of it (0.76); ./run has exited by itself
      await child.status;
    }
  } finally {
    await cleanup(dir);
  }
}

const ENV = bytes("PATH=/bin\nX=v\xff\nY\xfe=1\nW=ok\n");

Deno.test("14.3: supervise hands ./run every environment variable, bytes and order unchanged", async () => {
  assertEquals(latin1(await envUnder(prog("supervise"))), latin1(ENV));
});

Deno.test({
  name: "14.3: Debian's supervise gives the same environment bytes",
  ignore: !debian("supervise"),
  fn: async () => {
    assertEquals(latin1(await envUnder(debian("supervise")!)), latin1(ENV));
  },
});

// ---------------------------------------------------------------- item 6: multilog

const PATTERN = bytes("-a\xff*");
const INPUT = "a\xffb\nabc\n";

Deno.test("14.6: multilog script: a pattern is the argument's bytes, matched against line bytes", () => {
  const s = parseScript([decode(PATTERN), decode(bytes("./o\xff"))]);
  const a = s.actions[0];
  assert(a.kind === "-");
  assertEquals([...a.pat], [0x61, 0xff, 0x2a]);
  const line = bytes("a\xffb");
  assert(match(a.pat, line, 0, line.length));
  assert(!match(a.pat, bytes("abc"), 0, 3));
  assertEquals(s.dirs[0].dir, decode(bytes("./o\xff")));
});

/** d/current after `printf 'a\xffb\nabc\n' | PROG '-a\xff*' ./d`, and the names made. */
async function multilogRun(
  how: (dir: string) => Promise<unknown>,
): Promise<{ current: string; names: string[] }> {
  const dir = await scratch("dt-mlbytes-");
  try {
    await how(dir);
    const current = latin1(Deno.readFileSync(`${dir}/d/current`));
    // names as bytes (Deno's readDir would mangle them): through the shell
    const ls = await sh("for f in *; do printf '%s/' \"$f\"; done", dir);
    return { current, names: latin1(ls.stdout).split("/").filter((n) => n).sort() };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ML_EXPECTED = { current: "abc\n", names: ["d", "o\xff"] };

Deno.test("14.6: multilog (logic): the pattern deselects a\\xffb, the directory is o\\xff", async () => {
  const r = await multilogRun(async (dir) => {
    const a = await runMain("multilog", [PATTERN, bytes("./d")], dir, INPUT);
    const b = await runMain("multilog", [bytes("./o\xff")], dir, "x\n");
    assertEquals([a.code, b.code, latin1(a.stderr), latin1(b.stderr)], [0, 0, "", ""]);
    await Deno.remove(`${dir}/.driver.ts`);
  });
  assertEquals(r, ML_EXPECTED);
});

/** The same through a program binary (ours or Debian's). */
function multilogBinary(bin: string) {
  return (dir: string) =>
    sh(
      `printf 'a\\377b\\nabc\\n' | "$0" "$(printf -- '-a\\377*')" ./d && ` +
        `printf 'x\\n' | "$0" "./o$(printf '\\377')"`,
      dir,
      bin,
    ).then((o) => assertEquals(o.code, 0, latin1(o.stderr)));
}

Deno.test("14.6: multilog (launcher): the same through our program, argv read raw", async () => {
  assertEquals(await multilogRun(multilogBinary(prog("multilog"))), ML_EXPECTED);
});

Deno.test({
  name: "14.6: Debian's multilog keeps the same line and makes the same name",
  ignore: !debian("multilog"),
  fn: async () => {
    assertEquals(await multilogRun(multilogBinary(debian("multilog")!)), ML_EXPECTED);
  },
});

// ---------------------------------------------------------------- item 8: readproctitle

Deno.test("14.8: readproctitle (logic): D is counted in bytes: 3 bytes is a usage error", async () => {
  const dir = await scratch("dt-rpt-");
  try {
    const short = await runMain("readproctitle", [bytes("a"), bytes("-\xff\xfe")], dir);
    assertEquals([short.code, latin1(short.stdout), latin1(short.stderr)], [100, "", ""]);
    const five = await runMain("readproctitle", [bytes("a"), bytes("-\xff\xfe\xfd\xfc")], dir);
    assertEquals([five.code, latin1(five.stdout), latin1(five.stderr)], [0, "", ""]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Exit code of `PROG a $'-\xff\xfe'` (stdin empty). */
async function readproctitleShort(bin: string): Promise<number> {
  const dir = await scratch("dt-rpt-");
  try {
    return (await sh(`exec "$0" a "$(printf -- '-\\377\\376')" </dev/null`, dir, bin)).code;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("14.8: readproctitle (launcher): a $'-\\xff\\xfe' exits 100", async () => {
  assertEquals(await readproctitleShort(prog("readproctitle")), 100);
});

Deno.test({
  name: "14.8: Debian's readproctitle exits 100 too",
  ignore: !debian("readproctitle"),
  fn: async () => {
    assertEquals(await readproctitleShort(debian("readproctitle")!), 100);
  },
});

// ---------------------------------------------------------------- option letters (lib/options.ts)

Deno.test("options: a letter that is not UTF-8 is reported as its own byte (logic)", () => {
  const p = getopt([decode(bytes("-\xff"))], "udx").problem!;
  assertEquals(latin1(optionProblemText("svc", p)), "svc: illegal option -- \xff\n");
});

/** stderr and exit code of `PROG $'-\xff' x`. */
async function svcBadByte(bin: string): Promise<[number, string]> {
  const dir = await scratch("dt-opt-");
  try {
    const o = await sh(`exec "$0" "$(printf -- '-\\377')" x`, dir, bin);
    return [o.code, latin1(o.stderr)];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SVC_BAD = "svc: illegal option -- \xff\nsvc options: u up, d down, o once, x exit, " +
  "p pause, c continue, h hup, a alarm, i interrupt, t term, k kill\n";

Deno.test("options: svc $'-\\xff' (launcher) reports byte 0xff, exit 100", async () => {
  assertEquals(await svcBadByte(prog("svc")), [100, SVC_BAD]);
});

Deno.test({
  name: "options: Debian's svc $'-\\xff' prints the same bytes",
  ignore: !debian("svc"),
  fn: async () => {
    assertEquals(await svcBadByte(debian("svc")!), [100, SVC_BAD]);
  },
});

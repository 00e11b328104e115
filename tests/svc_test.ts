/**
 * svc against hand-made service directories: `supervise/control` is a FIFO
 * the test reads (non-blocking) to see exactly which bytes svc wrote. Messages,
 * exit codes and the bytes sent are compared with the expected ones always, and
 * with Debian's svc in each test's "[vs Debian]" twin (ignored without it).
 */
import { EAGAIN } from "../lib/errors.ts";
import { O_NONBLOCK, O_RDWR } from "../lib/libc.ts";
import { addr, NR, sys, sysPath } from "../lib/sys.ts";
import { assertEquals } from "./assert.ts";
import { compare, differential, type Tree, tree, type Versus, versusTree } from "./fixtures.ts";
import { mkfifo, prog, run } from "./util.ts";

const USAGE = "svc options: u up, d down, o once, x exit, p pause, c continue, h hup, " +
  "a alarm, i interrupt, t term, k kill\n";

/** A control FIFO with a reader held by the test (closed with the tree). */
interface Control {
  /** Everything written so far (non-blocking read until EAGAIN). */
  drain(): string;
}

function control(t: Tree, name: string): Control {
  const path = `${t.path(name)}/supervise/control`;
  Deno.mkdirSync(`${t.path(name)}/supervise`, { recursive: true });
  mkfifo(path);
  const fd = sysPath(NR.open, path, O_RDWR | O_NONBLOCK, 0);
  if (fd < 0) throw new Error(`open ${path}: errno ${-fd}`);
  t.defer(() => void sys(NR.close, fd));
  return {
    drain() {
      const buf = new Uint8Array(4096);
      let s = "";
      while (true) {
        const n = sys(NR.read, fd, addr(buf), buf.length);
        if (n > 0) {
          s += new TextDecoder().decode(buf.subarray(0, n));
          continue;
        }
        if (n < 0 && n !== -EAGAIN) throw new Error(`read ${path}: errno ${-n}`);
        return s;
      }
    },
  };
}

/** svc `args` in `cwd` (ours; Debian's too when comparing), and what each FIFO then holds. */
function svc(vs: Versus, cwd: string, args: string[], fifos: Control[] = []) {
  return vs.same("svc", async (path) => {
    const r = await run(path, args, { cwd });
    return {
      code: r.code,
      stdout: r.stdout,
      stderr: r.stderr,
      err: r.err,
      got: fifos.map((f) => f.drain()),
    };
  });
}

versusTree(
  "svc: letters de-duplicated in order of first appearance, one write per DIR",
  ["svc"],
  async (vs, t) => {
    const a = control(t, "a");
    const b = control(t, "b");
    const r = await svc(vs, t.root, ["-uuddxu", "-thkai", "-c", "-p", "-o", "a", "b", "a"], [a, b]);
    assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
    // same bytes to every DIR, in argument order (a twice)
    assertEquals(r.got, ["udxthkaicpoudxthkaicpo", "udxthkaicpo"]);
  },
);

versusTree("svc: no options writes nothing; no DIRs exits 0 silently", ["svc"], async (vs, t) => {
  const a = control(t, "a");
  const r = await svc(vs, t.root, ["a"], [a]);
  assertEquals([r.code, r.stdout, r.stderr, r.got], [0, "", "", [""]]);
  const r2 = await svc(vs, t.root, ["-u"], [a]);
  assertEquals([r2.code, r2.stdout, r2.stderr, r2.got], [0, "", "", [""]]);
  const r3 = await svc(vs, t.root, []);
  assertEquals([r3.code, r3.stdout, r3.stderr], [0, "", ""]);
});

versusTree(
  "svc: bad option letters print the option list, exit 100, nothing sent",
  ["svc"],
  async (vs, t) => {
    const a = control(t, "a");
    for (
      const [args, letter] of [[["-q", "a"], "q"], [["-u1", "a"], "1"], [["-dz"], "z"]] as const
    ) {
      const r = await svc(vs, t.root, [...args], [a]);
      assertEquals([r.code, r.stdout, r.stderr, r.got], [
        100,
        "",
        `svc: illegal option -- ${letter}\n${USAGE}`,
        [""],
      ]);
    }
  },
);

versusTree("svc: --, a lone -, and operands that look like options", ["svc"], async (vs, t) => {
  const a = control(t, "a");
  const r = await svc(vs, t.root, ["-u", "--", "-d", "a"], [a]);
  assertEquals(r.stderr, "svc: warning: unable to chdir to -d: file does not exist\n");
  // 0.76 consumes any word starting with -- as the end of options
  const r2 = await svc(vs, t.root, ["-t", "--what", "a", "-"], [a]);
  assertEquals(r2.stderr, "svc: warning: unable to chdir to -: file does not exist\n");
  assertEquals([r.got, r2.got], [["u"], ["t"]]);
});

versusTree("svc: per-DIR warnings, other DIRs still controlled, exit 0", ["svc"], async (vs, t) => {
  const good = control(t, "good");
  await Deno.mkdir(t.path("new"));
  await Deno.mkdir(t.path("dead/supervise"), { recursive: true });
  mkfifo(t.path("dead/supervise/control")); // no reader
  await Deno.writeTextFile(t.path("file"), "x");
  await Deno.mkdir(t.path("dirctl/supervise/control"), { recursive: true });
  const args = ["-k", "missing", "new", "dead", "file", "dirctl", "good", t.path("good")];
  const r = await svc(vs, t.root, args, [good]);
  assertEquals(r.code, 0);
  assertEquals(
    r.stderr,
    "svc: warning: unable to chdir to missing: file does not exist\n" +
      "svc: warning: unable to control new: file does not exist\n" +
      "svc: warning: unable to control dead: supervise not running\n" +
      "svc: warning: unable to chdir to file: not a directory\n" +
      "svc: warning: unable to control dirctl: is a directory\n",
  );
  assertEquals(r.got, ["kk"]);
});

Deno.test("svc: a regular file named control receives the bytes", async () => {
  await using t = await tree();
  await Deno.mkdir(t.path("s/supervise"), { recursive: true });
  await Deno.writeTextFile(t.path("s/supervise/control"), "");
  const r = await run(prog("svc"), ["-xo", "s"], { cwd: t.root });
  assertEquals([r.code, r.stderr], [0, ""]);
  assertEquals(await Deno.readTextFile(t.path("s/supervise/control")), "xo");
});

differential(
  "svc: access denied for a non-root account (setuidgid nobody)",
  ["setuidgid", "svc"],
  async ({ setuidgid }) => {
    await using t = await tree();
    const a = control(t, "a");
    const via = [setuidgid, "nobody"];
    await Deno.chmod(t.root, 0o755);
    await Deno.chmod(prog("svc").replace(/\/svc$/, ""), 0o755);
    await Deno.chmod(t.path("a/supervise"), 0o755); // control stays 0600 (root's)
    await Deno.mkdir(t.path("closed"), { mode: 0o700 });
    const ours = await compare("svc", ["-u", "closed", "a"], { cwd: t.root, via });
    assertEquals([ours.code, ours.stderr], [
      0,
      "svc: warning: unable to chdir to closed: access denied\n" +
      "svc: warning: unable to control a: access denied\n",
    ]);
    assertEquals(a.drain(), "");

    // an unreadable current directory is fatal, even with no DIR
    await Deno.chmod(t.path("closed"), 0o711);
    for (const args of [["-u", "x"], []]) {
      const o2 = await compare("svc", args, { cwd: t.path("closed"), via });
      assertEquals([o2.code, o2.stderr], [
        111,
        "svc: fatal: unable to open current directory: access denied\n",
      ]);
    }
  },
);

versusTree(
  "svc: junk argument vectors give 0.76's exact bytes and codes",
  ["svc"],
  async (vs, t) => {
    const enc = new TextEncoder();
    const illegal = (
      letter: number[],
    ) => [...enc.encode("svc: illegal option -- "), ...letter, 10, ...enc.encode(USAGE)];
    const chdir = (
      d: string,
    ) => [...enc.encode(`svc: warning: unable to chdir to ${d}: file does not exist\n`)];
    const vectors: [string[], number, number[]][] = [
      [["-u-d", "x"], 100, illegal([0x2d])],
      [["-:", "x"], 100, illegal([0x3a])],
      [["-é", "x"], 100, illegal([0xc3])], // C reports the letter's first byte
      [["-ué"], 100, illegal([0xc3])],
      [["--"], 0, []],
      [["--", "--"], 0, chdir("--")],
      [["-", "-u"], 0, [...chdir("-"), ...chdir("-u")]],
      [["-uu", "-"], 0, chdir("-")],
      [["-x-"], 100, illegal([0x2d])],
      [["", "-u"], 0, [
        ...enc.encode("svc: warning: unable to chdir to : file does not exist\n"),
        ...chdir("-u"),
      ]],
      [["-uuuuuuuuuuuuuuuuuuuuuuuudddddddddddddddddddddd", "nope"], 0, chdir("nope")],
    ];
    for (const [args, code, err] of vectors) {
      const r = await svc(vs, t.root, args);
      assertEquals([r.code, r.stdout, [...r.err]], [code, "", err], args.join(" "));
    }
  },
);

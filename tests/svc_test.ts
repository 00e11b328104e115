/**
 * svc against hand-made service directories: `supervise/control` is a FIFO
 * the test reads (non-blocking, through FFI) to see exactly which bytes svc
 * wrote. Messages and exit codes are compared with Debian's svc when it is
 * installed, and with the expected text always.
 */
import { cstr, errno, libc, O_NONBLOCK, O_RDWR } from "../lib/libc.ts";
import { EAGAIN } from "../lib/errors.ts";
import { assertEquals } from "./assert.ts";
import { debian, haveDebian, prog, type Ran, run, scratch } from "./util.ts";

const USAGE = "svc options: u up, d down, o once, x exit, p pause, c continue, h hup, " +
  "a alarm, i interrupt, t term, k kill\n";

/** A control FIFO with a reader held by the test. */
interface Control {
  /** Everything written so far (non-blocking read until EAGAIN). */
  drain(): string;
  close(): void;
}

function control(dir: string): Control {
  Deno.mkdirSync(`${dir}/supervise`, { recursive: true });
  const path = cstr(`${dir}/supervise/control`);
  if (libc().mkfifo(path, 0o600) !== 0) throw new Error(`mkfifo failed: ${errno()}`);
  const fd = libc().open(path, O_RDWR | O_NONBLOCK, 0);
  if (fd < 0) throw new Error(`open failed: ${errno()}`);
  return {
    drain() {
      const buf = new Uint8Array(4096);
      let s = "";
      while (true) {
        const n = Number(libc().read(fd, buf, BigInt(buf.length)));
        if (n > 0) {
          s += new TextDecoder().decode(buf.subarray(0, n));
          continue;
        }
        if (n < 0 && errno() !== EAGAIN) throw new Error(`read failed: ${errno()}`);
        return s;
      }
    },
    close: () => void libc().close(fd),
  };
}

/** Run our svc, then Debian's when installed; same code, stdout and stderr. */
async function svc(
  cwd: string,
  args: string[],
  between: () => void = () => {},
): Promise<Ran> {
  const ours = await run(prog("svc"), args, { cwd });
  between();
  const theirs = debian("svc");
  if (theirs) {
    const d = await run(theirs, args, { cwd });
    assertEquals(
      [ours.code, ours.stdout, ours.stderr],
      [d.code, d.stdout, d.stderr],
      `svc ${args.join(" ")} (ours vs Debian)`,
    );
  }
  return ours;
}

Deno.test("svc: letters de-duplicated in order of first appearance, one write per DIR", async () => {
  const root = await scratch();
  const a = control(`${root}/a`);
  const b = control(`${root}/b`);
  try {
    const got: string[] = [];
    const r = await svc(root, ["-uuddxu", "-thkai", "-c", "-p", "-o", "a", "b", "a"], () => {
      got.push(a.drain(), b.drain());
    });
    assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
    // same bytes to every DIR, in argument order (a twice)
    assertEquals(got, ["udxthkaicpoudxthkaicpo", "udxthkaicpo"]);
    if (haveDebian) assertEquals([a.drain(), b.drain()], got);
  } finally {
    a.close();
    b.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("svc: no options writes nothing; no DIRs exits 0 silently", async () => {
  const root = await scratch();
  const a = control(`${root}/a`);
  try {
    const r = await svc(root, ["a"]);
    assertEquals([r.code, r.stdout, r.stderr, a.drain()], [0, "", "", ""]);
    const r2 = await svc(root, ["-u"]);
    assertEquals([r2.code, r2.stdout, r2.stderr, a.drain()], [0, "", "", ""]);
    const r3 = await svc(root, []);
    assertEquals([r3.code, r3.stdout, r3.stderr], [0, "", ""]);
  } finally {
    a.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("svc: bad option letters print the option list, exit 100, nothing sent", async () => {
  const root = await scratch();
  const a = control(`${root}/a`);
  try {
    for (
      const [args, letter] of [[["-q", "a"], "q"], [["-u1", "a"], "1"], [["-dz"], "z"]] as const
    ) {
      const r = await svc(root, [...args]);
      assertEquals([r.code, r.stdout, r.stderr], [
        100,
        "",
        `svc: illegal option -- ${letter}\n${USAGE}`,
      ]);
    }
    assertEquals(a.drain(), "");
  } finally {
    a.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("svc: --, a lone -, and operands that look like options", async () => {
  const root = await scratch();
  const a = control(`${root}/a`);
  try {
    const got: string[] = [];
    const r = await svc(root, ["-u", "--", "-d", "a"], () => got.push(a.drain()));
    assertEquals(r.stderr, "svc: warning: unable to chdir to -d: file does not exist\n");
    a.drain(); // Debian's copy
    // 0.76 consumes any word starting with -- as the end of options
    const r2 = await svc(root, ["-t", "--what", "a", "-"], () => got.push(a.drain()));
    assertEquals(r2.stderr, "svc: warning: unable to chdir to -: file does not exist\n");
    assertEquals(got, ["u", "t"]);
  } finally {
    a.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("svc: per-DIR warnings, other DIRs still controlled, exit 0", async () => {
  const root = await scratch();
  const good = control(`${root}/good`);
  try {
    await Deno.mkdir(`${root}/new`);
    await Deno.mkdir(`${root}/dead/supervise`, { recursive: true });
    libc().mkfifo(cstr(`${root}/dead/supervise/control`), 0o600); // no reader
    await Deno.writeTextFile(`${root}/file`, "x");
    await Deno.mkdir(`${root}/dirctl/supervise/control`, { recursive: true });
    const args = ["-k", "missing", "new", "dead", "file", "dirctl", "good", `${root}/good`];
    const got: string[] = [];
    const r = await svc(root, args, () => got.push(good.drain()));
    assertEquals(r.code, 0);
    assertEquals(
      r.stderr,
      "svc: warning: unable to chdir to missing: file does not exist\n" +
        "svc: warning: unable to control new: file does not exist\n" +
        "svc: warning: unable to control dead: supervise not running\n" +
        "svc: warning: unable to chdir to file: not a directory\n" +
        "svc: warning: unable to control dirctl: is a directory\n",
    );
    assertEquals(got, ["kk"]);
  } finally {
    good.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("svc: a regular file named control receives the bytes", async () => {
  const root = await scratch();
  try {
    await Deno.mkdir(`${root}/s/supervise`, { recursive: true });
    await Deno.writeTextFile(`${root}/s/supervise/control`, "");
    const r = await run(prog("svc"), ["-xo", "s"], { cwd: root });
    assertEquals([r.code, r.stderr], [0, ""]);
    assertEquals(await Deno.readTextFile(`${root}/s/supervise/control`), "xo");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "svc: access denied for a non-root account (setuidgid nobody)",
  ignore: !haveDebian,
  fn: async () => {
    const root = await scratch();
    const a = control(`${root}/a`);
    try {
      await Deno.chmod(root, 0o755);
      await Deno.chmod(prog("svc").replace(/\/svc$/, ""), 0o755);
      await Deno.chmod(`${root}/a/supervise`, 0o755); // control stays 0600 (root's)
      await Deno.mkdir(`${root}/closed`, { mode: 0o700 });
      const args = ["-u", "closed", "a"];
      const ours = await run(debian("setuidgid")!, ["nobody", prog("svc"), ...args], { cwd: root });
      const d = await run(debian("setuidgid")!, ["nobody", debian("svc")!, ...args], { cwd: root });
      assertEquals([ours.code, ours.stderr], [
        0,
        "svc: warning: unable to chdir to closed: access denied\n" +
        "svc: warning: unable to control a: access denied\n",
      ]);
      assertEquals([ours.code, ours.stdout, ours.stderr], [d.code, d.stdout, d.stderr]);
      assertEquals(a.drain(), "");

      // an unreadable current directory is fatal, even with no DIR
      await Deno.chmod(`${root}/closed`, 0o711);
      for (const args of [["-u", "x"], []]) {
        const o2 = await run(debian("setuidgid")!, ["nobody", prog("svc"), ...args], {
          cwd: `${root}/closed`,
        });
        const d2 = await run(debian("setuidgid")!, ["nobody", debian("svc")!, ...args], {
          cwd: `${root}/closed`,
        });
        assertEquals([o2.code, o2.stderr], [
          111,
          "svc: fatal: unable to open current directory: access denied\n",
        ]);
        assertEquals([o2.code, o2.stdout, o2.stderr], [d2.code, d2.stdout, d2.stderr]);
      }
    } finally {
      a.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("svc: junk argument vectors give 0.76's exact bytes and codes", async () => {
  const root = await scratch();
  try {
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
      const r = await svc(root, args);
      assertEquals([r.code, r.stdout, [...r.err]], [code, "", err], args.join(" "));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

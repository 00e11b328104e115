/**
 * svstat against hand-made service directories: a `supervise/ok` FIFO whose
 * reader the test holds (so "supervise is running") and status files written
 * with lib/status.ts. Every state is compared byte for byte with Debian's
 * svstat on the same directories when it is installed, and with the
 * expected text always.
 */
import { cstr, libc } from "../lib/libc.ts";
import { encodeStatus, type Want } from "../lib/status.ts";
import { fromUnix } from "../lib/tai64n.ts";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { debian, haveDebian, prog, type Ran, run, scratch } from "./util.ts";

function mkfifo(path: string): void {
  if (libc().mkfifo(cstr(path), 0o600) !== 0) throw new Error(`mkfifo ${path} failed`);
}

/** A service dir with `supervise/ok` held open for reading (svstat then sees a supervise). */
interface Fake {
  dir: string;
  close(): void;
}

async function fakeService(
  dir: string,
  st?: { pid: number; paused?: boolean; want: Want; stampUnix?: number; down?: boolean },
): Promise<Fake> {
  await Deno.mkdir(`${dir}/supervise`, { recursive: true });
  mkfifo(`${dir}/supervise/ok`);
  // read+write: does not block, and keeps a reader on the FIFO
  const held = Deno.openSync(`${dir}/supervise/ok`, { read: true, write: true });
  if (st) {
    // default stamp: far in the future, so svstat prints a stable "0 seconds"
    const stamp = fromUnix(BigInt(st.stampUnix ?? 4_000_000_000), 500);
    await Deno.writeFile(
      `${dir}/supervise/status`,
      encodeStatus({ stamp, pid: st.pid, paused: st.paused ?? false, want: st.want }),
    );
    if (st.down) await Deno.writeFile(`${dir}/down`, new Uint8Array());
  }
  return { dir, close: () => held.close() };
}

/** Run our svstat (and Debian's when installed) with the same args in `cwd`; they must agree. */
async function svstat(cwd: string, args: string[], env?: Record<string, string>): Promise<Ran> {
  const ours = await run(prog("svstat"), args, { cwd, env });
  const theirs = debian("svstat");
  if (theirs) {
    const d = await run(theirs, args, { cwd, env });
    assertEquals(
      [ours.code, ours.stdout, ours.stderr],
      [d.code, d.stdout, d.stderr],
      `svstat ${args.join(" ")} (ours vs Debian)`,
    );
  }
  return ours;
}

Deno.test("svstat: every supervised state, suffixes in 0.76's order", async () => {
  const root = await scratch();
  const fakes: Fake[] = [];
  try {
    const cases: [string, Parameters<typeof fakeService>[1], string][] = [
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
    for (const [name, st] of cases) fakes.push(await fakeService(`${root}/${name}`, st));
    const r = await svstat(root, cases.map(([n]) => n));
    assertEquals(r.stdout, cases.map(([n, , want]) => `${n}: ${want}\n`).join(""));
    assertEquals([r.code, r.stderr], [0, ""]);
  } finally {
    for (const f of fakes) f.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("svstat: seconds = now - stamp, nanoseconds ignored", async () => {
  const root = await scratch();
  const t = Math.floor(Date.now() / 1000) - 1000;
  const f = await fakeService(`${root}/s`, { pid: 3, want: "u", stampUnix: t });
  try {
    const before = Math.floor(Date.now() / 1000);
    const r = await run(prog("svstat"), ["s"], { cwd: root });
    const after = Math.floor(Date.now() / 1000);
    const m = /^s: up \(pid 3\) (\d+) seconds\n$/.exec(r.stdout);
    assert(m, r.stdout);
    const secs = Number(m[1]);
    assert(secs >= before - t && secs <= after - t, `${secs} not in [${before - t}, ${after - t}]`);
  } finally {
    f.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("svstat: missing, never supervised, not running, not a directory", async () => {
  const root = await scratch();
  try {
    await Deno.mkdir(`${root}/new`);
    await Deno.mkdir(`${root}/dead/supervise`, { recursive: true });
    mkfifo(`${root}/dead/supervise/ok`);
    await Deno.writeTextFile(`${root}/file`, "x");
    await Deno.mkdir(`${root}/okfile/supervise`, { recursive: true });
    await Deno.writeTextFile(`${root}/okfile/supervise/ok`, "");
    const r = await svstat(root, [
      "nonexistent",
      "new",
      "dead",
      "file",
      "okfile",
      `${root}/new`,
      "-x", // no options: every argument is a DIR
      "--",
    ]);
    assertEquals(
      r.stdout,
      "nonexistent: unable to chdir: file does not exist\n" +
        "new: unable to open supervise/ok: file does not exist\n" +
        "dead: supervise not running\n" +
        "file: unable to chdir: not a directory\n" +
        // a regular file named ok counts as a running supervise
        "okfile: unable to open supervise/status: file does not exist\n" +
        `${root}/new: unable to open supervise/ok: file does not exist\n` +
        "-x: unable to chdir: file does not exist\n" +
        "--: unable to chdir: file does not exist\n",
    );
    assertEquals([r.code, r.stderr], [0, ""]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("svstat: no arguments prints nothing, exit 0", async () => {
  const r = await svstat("/", []);
  assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
});

Deno.test("svstat: truncated, longer, and symlink-loop inputs", async () => {
  const root = await scratch();
  const fakes: Fake[] = [];
  try {
    for (const n of ["empty", "short", "long", "loop"]) {
      fakes.push(await fakeService(`${root}/${n}`));
    }
    const full = encodeStatus({
      stamp: fromUnix(4_000_000_000n),
      pid: 8,
      paused: false,
      want: "u",
    });
    await Deno.writeFile(`${root}/empty/supervise/status`, new Uint8Array());
    await Deno.writeFile(`${root}/short/supervise/status`, full.subarray(0, 17));
    // extra bytes (an encore 20-byte file) are ignored
    await Deno.writeFile(`${root}/long/supervise/status`, new Uint8Array([...full, 1, 2]));
    await Deno.writeFile(`${root}/loop/supervise/status`, full);
    await Deno.symlink("down", `${root}/loop/down`);
    const r = await svstat(root, ["empty", "short", "long", "loop"]);
    assertEquals(
      r.stdout,
      "empty: unable to read supervise/status: bad format\n" +
        "short: unable to read supervise/status: bad format\n" +
        "long: up (pid 8) 0 seconds\n" +
        "loop: unable to stat down: symbolic link loop\n",
    );
  } finally {
    for (const f of fakes) f.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("svstat: status replaced by a directory decodes stale data (0.76's EISDIR quirk)", async () => {
  const root = await scratch();
  const fakes: Fake[] = [];
  try {
    fakes.push(await fakeService(`${root}/good`, { pid: 4321, want: "d", paused: true }));
    for (const n of ["isdir", "isdir2"]) {
      fakes.push(await fakeService(`${root}/${n}`));
      await Deno.mkdir(`${root}/${n}/supervise/status`);
    }
    await Deno.writeFile(`${root}/isdir2/down`, new Uint8Array());
    // first DIR: nothing read yet, so all zeros: stamp 0 -> a huge "seconds" (via a double)
    const before = BigInt(Math.floor(Date.now() / 1000));
    const r = await svstat(root, ["isdir", "good", "isdir2"]);
    const after = BigInt(Math.floor(Date.now() / 1000));
    const lines = r.stdout.split("\n");
    const m = /^isdir: down (\d+) seconds, normally up$/.exec(lines[0]);
    assert(m, lines[0]);
    const tai = (t: bigint) => BigInt(Number((1n << 62n) + 10n + t));
    assert([tai(before), tai(after)].includes(BigInt(m[1])), m[1]);
    // later DIRs decode the previous DIR's bytes
    assertEquals(lines.slice(1), [
      "good: up (pid 4321) 0 seconds, paused, want down",
      "isdir2: up (pid 4321) 0 seconds, normally down, paused, want down",
      "",
    ]);
  } finally {
    for (const f of fakes) f.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("svstat: a partial read still overwrites the start of the buffer", async () => {
  const root = await scratch();
  const fakes: Fake[] = [];
  try {
    fakes.push(await fakeService(`${root}/a`, { pid: 0x01020304, want: "u" }));
    fakes.push(await fakeService(`${root}/b`));
    fakes.push(await fakeService(`${root}/c`));
    // 14 bytes: the stamp and the low half of the pid are replaced
    const b = encodeStatus({
      stamp: fromUnix(4_000_000_001n),
      pid: 0x0000ffff,
      paused: false,
      want: "d",
    });
    await Deno.writeFile(`${root}/b/supervise/status`, b.subarray(0, 14));
    await Deno.mkdir(`${root}/c/supervise/status`);
    const r = await svstat(root, ["a", "b", "c"]);
    assertEquals(
      r.stdout,
      `a: up (pid ${0x01020304}) 0 seconds\n` +
        "b: unable to read supervise/status: bad format\n" +
        `c: up (pid ${0x0102ffff}) 0 seconds\n`,
    );
  } finally {
    for (const f of fakes) f.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "svstat: access denied for a non-root account (setuidgid nobody)",
  ignore: !haveDebian,
  fn: async () => {
    const root = await scratch();
    const fakes: Fake[] = [];
    try {
      await Deno.chmod(root, 0o755);
      await Deno.chmod(prog("svstat").replace(/\/svstat$/, ""), 0o755);
      await Deno.mkdir(`${root}/closed`, { mode: 0o700 });
      fakes.push(await fakeService(`${root}/okdenied`, { pid: 1, want: "u" }));
      await Deno.chmod(`${root}/okdenied/supervise/ok`, 0o600);
      await Deno.chmod(`${root}/okdenied/supervise`, 0o755);
      fakes.push(await fakeService(`${root}/stdenied`, { pid: 1, want: "u" }));
      await Deno.chmod(`${root}/stdenied/supervise/ok`, 0o622);
      await Deno.chmod(`${root}/stdenied/supervise/status`, 0o600);
      await Deno.chmod(`${root}/stdenied/supervise`, 0o755);
      await Deno.mkdir(`${root}/downdenied/sub`, { recursive: true, mode: 0o711 });
      await Deno.chmod(`${root}/downdenied`, 0o600);
      const ours = await run(debian("setuidgid")!, [
        "nobody",
        prog("svstat"),
        "closed",
        "okdenied",
        "stdenied",
        "downdenied/sub",
      ], { cwd: root });
      const d = await run(debian("setuidgid")!, [
        "nobody",
        debian("svstat")!,
        "closed",
        "okdenied",
        "stdenied",
        "downdenied/sub",
      ], { cwd: root });
      assertEquals(
        ours.stdout,
        "closed: unable to chdir: access denied\n" +
          "okdenied: unable to open supervise/ok: access denied\n" +
          "stdenied: unable to open supervise/status: access denied\n" +
          "downdenied/sub: unable to chdir: access denied\n",
      );
      assertEquals([ours.code, ours.stdout, ours.stderr], [d.code, d.stdout, d.stderr]);

      // an unreadable current directory is fatal
      await Deno.chmod(`${root}/closed`, 0o711);
      const o2 = await run(debian("setuidgid")!, ["nobody", prog("svstat"), "x"], {
        cwd: `${root}/closed`,
      });
      const d2 = await run(debian("setuidgid")!, ["nobody", debian("svstat")!, "x"], {
        cwd: `${root}/closed`,
      });
      assertEquals([o2.code, o2.stdout, o2.stderr], [
        111,
        "",
        "svstat: fatal: unable to open current directory: access denied\n",
      ]);
      assertEquals([o2.code, o2.stdout, o2.stderr], [d2.code, d2.stdout, d2.stderr]);
    } finally {
      for (const f of fakes) f.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("svstat: output is one line per DIR even for many DIRs", async () => {
  const root = await scratch();
  const fakes: Fake[] = [];
  try {
    const names: string[] = [];
    for (let i = 0; i < 300; i++) {
      names.push(`s${i}`);
      fakes.push(await fakeService(`${root}/s${i}`, { pid: 100 + i, want: "u" }));
    }
    const r = await svstat(root, names);
    const lines = r.stdout.split("\n");
    assertEquals(lines.length, 301);
    lines.slice(0, 300).forEach((l, i) =>
      assertMatch(l, new RegExp(`^s${i}: up \\(pid ${100 + i}\\) 0 seconds$`))
    );
  } finally {
    for (const f of fakes) f.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("svstat: stdout without a reader: killed by SIGPIPE like 0.76", async () => {
  const root = await scratch();
  try {
    // fd 4 is a FIFO whose only reader (fd 3) is closed before svstat writes
    const body = (svstat: string) =>
      `mkfifo f; exec 3<>f; exec 4>f; exec 3<&-; ${svstat} missing >&4; echo $?; ${svstat} >&4; echo $?`;
    const ours = await run("sh", ["-c", body(prog("svstat"))], { cwd: root });
    assertEquals([ours.code, ours.stdout, ours.stderr], [0, "141\n0\n", ""]);
    const theirs = debian("svstat");
    if (theirs) {
      await Deno.remove(`${root}/f`);
      const d = await run("sh", ["-c", body(theirs)], { cwd: root });
      assertEquals(ours.stdout, d.stdout);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

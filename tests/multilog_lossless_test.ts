/**
 * Lossless hosting (issue 9 item 4): a hosted logger (tests/multilog_host_child.ts, a child
 * process running HostedMultilog on a Reactor) is killed with SIGKILL at random points while a
 * writer writes steadily through a FIFO in random pieces (lines cut anywhere); a new one starts
 * each time on the same FIFO (now and then a clean restart by TERM instead). With small `s`
 * many kills land inside rotations (and the processor's run). At the end every line is in the
 * log directory exactly once, whole, with one stamp, in order.
 */
import { assert, assertEquals } from "./assert.ts";
import { O_CLOEXEC, O_CREAT, O_NONBLOCK, O_RDWR } from "../lib/libc.ts";
import { addr, AT_FDCWD, NR, sys, sysAt } from "../lib/sys.ts";
import { tree } from "./fixtures.ts";
import { landedSplice } from "../lib/multilog/hosted.ts";
import { lexists as exists, mkfifo, root, waitFor } from "./util.ts";

const CHILD = `${root}/tests/multilog_host_child.ts`;
const STAMPED = /^@[0-9a-f]{24} /;

/** Every file of log directory `dir`, old ones by name then `current`, concatenated. */
function history(dir: string): string {
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("@"));
  names.sort();
  names.push("current");
  return names.map((n) => {
    try {
      return Deno.readTextFileSync(`${dir}/${n}`);
    } catch {
      return "";
    }
  }).join("");
}

function start(fifo: string, dir: string, args: string[], round: number): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", CHILD, fifo, dir, ...args],
    env: { DT_ROUND: String(round) },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether process `pid` catches SIGTERM yet (/proc/PID/status SigCgt): a host still loading
 * its modules would die of a TERM (143) instead of ending the logger.
 */
function catchesTerm(pid: number): boolean {
  try {
    const m = /SigCgt:\s*([0-9a-f]+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 14n)) !== 0n;
  } catch {
    return false;
  }
}

/**
 * Scripts, and the staged bytes after which the staging file is used from its start again
 * (the default round, 1 MiB, is more than the test writes; 0: the default).
 */
const SCRIPTS: [string[], number][] = [
  [["t", "s16384", "n1000", "./main"], 0],
  [["t", "s16384", "n1000", "./main"], 20000],
  [["s8192", "n1000", "./main"], 8192],
  // many rotations (one per ~4 KB), so kills land inside them; with a processor too
  [["t", "s4096", "n1000", "./main"], 0],
  [["t", "s4096", "n1000", "!cat", "./main"], 12000],
];

for (const [args, round] of SCRIPTS) {
  const name = `${args.join(" ")}${round ? `, staging round ${round}` : ""}`;
  Deno.test(`lossless: SIGKILL of the host at random points loses and doubles nothing (${name})`, async () => {
    await using t = await tree();
    const fifo = t.path("fifo");
    mkfifo(fifo);
    // the writer's end (O_RDWR: opening never waits for a reader; it never reads)
    const wr = sysAt(NR.openat, AT_FDCWD, fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    assert(wr >= 0);
    let seed = 12345 + SCRIPTS.findIndex(([a, r]) => a === args && r === round);
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const lines: string[] = [];
    for (let i = 0; i < 2500; i++) {
      const n = rnd(30) === 0 ? 1000 + rnd(3000) : rnd(200);
      let s = `L${i}.`;
      while (s.length < n) s += String.fromCharCode(97 + rnd(26));
      lines.push(s);
    }
    const data = new TextEncoder().encode(lines.join("\n") + "\n");
    let off = 0;
    let child = start(fifo, t.root, args, round);
    let kills = 0;
    let terms = 0;
    /** kills and TERMs that came while `previous` existed (a rotation under way) */
    let inRotation = 0;
    /** a TERM was sent: the child ends at a line end, the writer goes on meanwhile */
    let ending: Promise<Deno.CommandStatus> | null = null;
    const done: { status: Deno.CommandStatus | null } = { status: null };
    try {
      // after every 1/24 to 3/24 of the input a SIGKILL (3 in 4) or a clean restart by TERM
      // (at least 5 kills in all, whatever the speed)
      const step = () => Math.floor((data.length / 24) * (1 + rnd(200) / 100));
      let killAt = step();
      while (off < data.length || ending) {
        if (off < data.length) {
          const k = Math.min(1 + rnd(600), data.length - off);
          const w = sys(NR.write, wr, addr(data.subarray(off, off + k)), k);
          if (w > 0) off += w;
        }
        await sleep(rnd(3));
        if (done.status) {
          assertEquals(done.status.code, 0, "exit code after TERM");
          ending = done.status = null;
          terms++;
          child = start(fifo, t.root, args, round);
          killAt = off + step();
        } else if (!ending && off >= killAt) {
          // with a processor, wait (writing on) for a rotation under way: `previous` exists
          // from the rename until the processor's output is finished
          if (args.includes("!cat") && !exists(t.path("main/previous")) && off < data.length) {
            continue;
          }
          if (exists(t.path("main/previous"))) inRotation++;
          if (rnd(4) === 0 && terms < 3 && catchesTerm(child.pid)) {
            child.kill("SIGTERM");
            ending = child.status.then((s) => done.status = s);
          } else {
            child.kill("SIGKILL");
            await child.status;
            kills++;
            child = start(fifo, t.root, args, round);
            killAt = off + step();
          }
        }
      }
      const last = lines[lines.length - 1] + "\n";
      await waitFor("every line logged", () => history(t.path("main")).endsWith(last), 60000);
      await waitFor("the host catching TERM", () => catchesTerm(child.pid), 60000);
      child.kill("SIGTERM");
      assertEquals((await child.status).code, 0);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
      await child.status;
      sys(NR.close, wr);
    }
    assert(kills >= 5, `kills: ${kills}`);
    const got = history(t.path("main")).split("\n");
    assertEquals(got.pop(), "");
    assertEquals(got.length, lines.length, "line count");
    for (const [i, l] of got.entries()) {
      if (args[0] === "t") {
        assert(STAMPED.test(l), `line ${i} has no stamp: ${l.slice(0, 60)}`);
        assertEquals(l.slice(26), lines[i], `line ${i}`);
      } else assertEquals(l, lines[i], `line ${i}`);
    }
    const crashed = [...Deno.readDirSync(t.path("main"))].filter((e) => e.name.endsWith(".u"));
    console.log(
      `${kills} kills, ${terms} restarts, ${inRotation} in a rotation, ` +
        `${crashed.length} .u files, ${got.length} lines`,
    );
    if (args.includes("!cat")) assert(inRotation >= 3, `in a rotation: ${inRotation}`);
  });
}

/**
 * The kernel lands a splice page by page: before it and at each page start after `at`,
 * landedSplice must say exactly how much of `input[0, k)` is there (the bytes written by hand).
 */
function assertMeasuredAtEveryStop(
  fd: number,
  at: number,
  input: Uint8Array<ArrayBuffer>,
  k: number,
  marks: Uint8Array,
  label: string,
): void {
  assertEquals(landedSplice(fd, at, k, marks), 0, `${label}: nothing landed`);
  const stops: number[] = [];
  for (let c = (Math.floor(at / 4096) + 1) * 4096; c < at + k; c += 4096) stops.push(c - at);
  stops.push(k);
  for (const w of stops) {
    assertEquals(sys(NR.pwrite64, fd, addr(input), w, at), w);
    assertEquals(landedSplice(fd, at, k, marks), w, `${label}: ${w} landed`);
  }
}

Deno.test("lossless: a splice an earlier version marked, cut short at any page by the host's death, is measured exactly", async () => {
  await using t = await tree();
  const fd = sysAt(NR.openat, AT_FDCWD, t.path("staging"), O_RDWR | O_CLOEXEC | O_CREAT, 0o600);
  assert(fd >= 0);
  try {
    // the last round's bytes (the same bytes as the new ones: only the marks tell them apart)
    const k = 3 * 4096 + 1234;
    const input = new Uint8Array(k).map((_, i) => 97 + (i % 7));
    for (const at of [4096, 4096 + 100, 4096 * 3 - 1]) {
      const old = new Uint8Array(k + 8192).map((_, i) => 97 + ((i - at) % 7 + 7) % 7);
      assertEquals(sys(NR.pwrite64, fd, addr(old), old.length, 0), old.length);
      // what that version wrote before the splice: the range, with the byte at `at` and at each
      // page start inverted (those bytes are the marks its header kept)
      const starts = [at];
      for (let c = (Math.floor(at / 4096) + 1) * 4096; c < at + k; c += 4096) starts.push(c);
      const marked = input.slice();
      for (const c of starts) marked[c - at] ^= 0xff;
      assertEquals(sys(NR.pwrite64, fd, addr(marked), k, at), k);
      const marks = new Uint8Array(starts.map((c) => marked[c - at]));
      assertMeasuredAtEveryStop(fd, at, input, k, marks, `at ${at}`);
    }
  } finally {
    sys(NR.close, fd);
  }
});

/**
 * A staging file an earlier version left (`header(file, ino, s0)` writes its header into `file`,
 * whose staged input from 4096 on is "staged one\nstaged two\n" then `tail`), with `current`
 * as that host left it: one line written, then 8 bytes of a batch not undone. A new logger must
 * replay the staged lines once, after the one line, and nothing of `tail`.
 */
async function replaysLeftFile(
  tail: string,
  header: (file: Uint8Array, ino: number, s0: number) => void,
): Promise<void> {
  await using t = await tree();
  const fifo = t.path("fifo");
  mkfifo(fifo);
  const wr = sysAt(NR.openat, AT_FDCWD, fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  assert(wr >= 0);
  try {
    Deno.mkdirSync(t.path("main"));
    const before = "@400000006b0d548b1c02a58c old\n";
    Deno.writeTextFileSync(t.path("main/current"), before + "@4000000", { mode: 0o644 });
    const ino = Deno.statSync(t.path("main/current")).ino!;
    const staged = new TextEncoder().encode("staged one\nstaged two\n" + tail);
    const file = new Uint8Array(4096 + staged.length);
    file.set(staged, 4096);
    header(file, ino, before.length);
    Deno.writeFileSync(t.path("hosted-input"), file, { mode: 0o600 });
    const child = start(fifo, t.root, ["t", "./main"], 0);
    try {
      await waitFor("the host catching TERM", () => catchesTerm(child.pid));
      await waitFor("replayed", () => {
        const s = Deno.readTextFileSync(t.path("main/current"));
        return s.endsWith(" staged two\n") ? s : undefined;
      });
      // and then what comes through the pipe
      sys(NR.write, wr, addr(new TextEncoder().encode("piped\n")), 6);
      await waitFor(
        "piped",
        () => Deno.readTextFileSync(t.path("main/current")).endsWith(" piped\n"),
      );
      // and the staging file ends where the staged input does (nothing of `tail` is left to be
      // taken for input after another crash)
      assertEquals(
        Deno.statSync(t.path("hosted-input")).size,
        4096 + staged.length - tail.length + 6,
      );
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
    // the cut-back `current` went aside as at any start (0.76), the staged lines follow
    const got = history(t.path("main"));
    assert(got.startsWith(before), got);
    const rest = got.slice(before.length).split("\n");
    assertEquals(rest.map((l) => l.replace(STAMPED, "")), [
      "staged one",
      "staged two",
      "piped",
      "",
    ]);
    assert(rest.slice(0, 3).every((l) => STAMPED.test(l)), got);
  } finally {
    sys(NR.close, wr);
  }
}

/** FNV-1a of `b[at, at + n)`, as the headers' checksum. */
function fnv(b: Uint8Array, at: number, n: number): number {
  let h = 0x811c9dc5;
  for (let i = at; i < at + n; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

Deno.test("lossless: a staging file left mid-splice by the used-round version (marks) is replayed, once", async () => {
  // the file goes on past the splice with the last round's bytes: they are not input
  const k = "staged one\nstaged two\n".length;
  await replaysLeftFile("an old round's line\n".repeat(300), (file, ino, s0) => {
    // a 128-byte header at 256 {magic, seq, inode, S0, offset 4096, flags PENDING, the splice
    // at 4096 of k bytes, 1 mark: the first byte inverted (the splice put it down), FNV-1a}
    const dv = new DataView(file.buffer);
    dv.setUint32(256, 0x324d5444, true);
    dv.setUint32(260, 9, true);
    dv.setFloat64(264, ino, true);
    dv.setFloat64(272, s0, true);
    dv.setFloat64(280, 4096, true);
    dv.setUint32(288, 8, true);
    dv.setFloat64(296, 4096, true);
    dv.setUint32(304, k, true);
    dv.setUint32(308, 1, true);
    file[312] = file[4096] ^ 0xff;
    dv.setUint32(256 + 124, fnv(file, 256, 124), true);
  });
});

Deno.test("lossless: a staging file left with the first header layout is still replayed, once", async () => {
  await replaysLeftFile("", (file, ino, s0) => {
    // a 40-byte header at 0 {magic, seq, inode, S0, offset 4096, flags 0, FNV-1a}
    const dv = new DataView(file.buffer);
    dv.setUint32(0, 0x4c4d5444, true);
    dv.setUint32(4, 7, true);
    dv.setFloat64(8, ino, true);
    dv.setFloat64(16, s0, true);
    dv.setFloat64(24, 4096, true);
    dv.setUint32(36, fnv(file, 0, 36), true);
  });
});

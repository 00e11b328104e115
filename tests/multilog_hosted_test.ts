/**
 * Hosted loggers (lib/multilog/hosted.ts): several multilogs on one Reactor in this test
 * process, fed through real pipes, must leave the same log directories (stamps masked) as our
 * standalone multilog and Debian's given the same input and the same reads.
 */
import { assert, assertEquals } from "./assert.ts";
import { O_CLOEXEC, O_DIRECTORY, O_RDONLY } from "../lib/libc.ts";
import { addr, AT_FDCWD, NR, sys, sysAt } from "../lib/sys.ts";
import { Reactor } from "../lib/reactor.ts";
import { HostedMultilog, openStaging } from "../lib/multilog/hosted.ts";
import { tree } from "./fixtures.ts";
import { debian, waitFor } from "./util.ts";
import { mixedInput, ours, runWithFile, snapshot, storedLines } from "./multilog_util.ts";

const LENGTHS = [0, 1, 5, 50, 100, 300, 600, 973, 974, 975, 999, 1000, 1001, 1500, 2500, 5000];
const F_SETPIPE_SZ = 1031;

/** A pipe holding all of `input` (grown to fit), its write end closed unless `keepOpen`. */
function filledPipe(data: Uint8Array, keepOpen = false): { rd: number; wr: number } {
  const input = new Uint8Array(data);
  const fds = new Int32Array(2);
  assertEquals(sys(NR.pipe2, addr(fds), O_CLOEXEC), 0);
  const [rd, wr] = fds;
  assert(sys(NR.fcntl, wr, F_SETPIPE_SZ, 1 << 20) >= input.length, "pipe too small");
  let off = 0;
  while (off < input.length) {
    const w = sys(NR.write, wr, addr(input.subarray(off)), input.length - off);
    assert(w > 0);
    off += w;
  }
  if (!keepOpen) sys(NR.close, wr);
  return { rd, wr: keepOpen ? wr : -1 };
}

function openDir(path: string): number {
  const fd = sysAt(NR.openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert(fd >= 0);
  return fd;
}

/** Run loggers (script, input) on one reactor in `dirs`; returns their exit codes. */
async function hosted(jobs: { dir: string; args: string[]; input: Uint8Array }[]) {
  const r = new Reactor();
  const codes: (number | undefined)[] = jobs.map(() => undefined);
  const open: number[] = [];
  try {
    const loggers = jobs.map((j, i) => {
      const p = filledPipe(j.input);
      const dirfd = openDir(j.dir);
      open.push(p.rd, dirfd);
      return new HostedMultilog({
        reactor: r,
        fd: p.rd,
        args: j.args,
        dirfd,
        // the lossless reader for one-directory scripts (the staging file outside the dirs)
        staging: openStaging(dirfd, "hosted-input"),
        onExit: (c) => codes[i] = c,
      });
    });
    for (const l of loggers) l.start();
    await waitFor("loggers end", () => codes.every((c) => c !== undefined), 60000);
    return codes;
  } finally {
    for (const fd of open) sys(NR.close, fd);
    r.close();
    await r.idle();
  }
}

Deno.test("hosted: two loggers on one reactor leave what the standalone multilog leaves", async () => {
  await using t = await tree();
  const a = mixedInput(1, 700, LENGTHS);
  const b = mixedInput(7, 900, LENGTHS.slice(0, 8));
  const scripts = [
    ["t", "s4096", "n1000", "./d"],
    ["s5000", "n3", "-*", "+*a*", "./d", "t", "!tr a-z A-Z", "./e"],
  ];
  for (const [i, input] of [a, b].entries()) {
    for (const who of ["hosted", "ours", "debian"]) {
      await Deno.mkdir(t.path(`${who}${i}`));
      Deno.writeFileSync(t.path(`${who}${i}/input`), input);
    }
  }
  const codes = await hosted([
    { dir: t.path("hosted0"), args: scripts[0], input: a },
    { dir: t.path("hosted1"), args: scripts[1], input: b },
  ]);
  assertEquals(codes, [0, 0]);
  const snap = (who: string, i: number) =>
    ["d", ...(i === 1 ? ["e"] : [])].map((d) => snapshot(t.path(`${who}${i}/${d}`))).join("#\n");
  for (const i of [0, 1]) {
    const r = await runWithFile(ours(), scripts[i], t.path(`ours${i}`), "input");
    assertEquals(r.code, 0, r.stderr);
    assertEquals(snap("hosted", i), snap("ours", i), `logger ${i}: hosted vs standalone`);
    const old = snap("hosted", i).split("\n== @STAMP.s").length - 1;
    assert(i === 0 ? old > 20 : old >= 2, `old files: ${old}`);
  }
  const deb = debian("multilog");
  if (deb !== undefined) {
    for (const i of [0, 1]) {
      const r = await runWithFile(deb, scripts[i], t.path(`debian${i}`), "input");
      assertEquals(r.code, 0, r.stderr);
      assertEquals(snap("hosted", i), snap("debian", i), `logger ${i}: hosted vs Debian`);
    }
  }
});

Deno.test("hosted: a lossless logger ends when its writer is gone after more than a turn of input", async () => {
  // all of it in the pipe and the writer closed before the start: one edge (IN|HUP) for input
  // that takes several turns; the last turn drains the pipe and must still see the end
  await using t = await tree();
  for (const [i, text] of ["", "no newline at the end"].entries()) {
    const input = new TextEncoder().encode(`${"x".repeat(99)}\n`.repeat(7000) + text);
    for (const who of ["hosted", "ours"]) {
      await Deno.mkdir(t.path(`${who}${i}`));
      Deno.writeFileSync(t.path(`${who}${i}/input`), input);
    }
    const args = ["t", "s16777215", "./d"];
    assertEquals(await hosted([{ dir: t.path(`hosted${i}`), args, input }]), [0]);
    const r = await runWithFile(ours(), args, t.path(`ours${i}`), "input");
    assertEquals(r.code, 0, r.stderr);
    assertEquals(snapshot(t.path(`hosted${i}/d`)), snapshot(t.path(`ours${i}/d`)));
  }
});

Deno.test("hosted: a lossless logger whose batch outgrows its region stops at a 1024-byte read boundary and leaves what 0.76 leaves", async () => {
  // lines of 0-5 bytes: a 256 KiB batch stamped would need ~10 times the 512 KiB region, so
  // the engine stops early (Engine.low) several times a batch; where it stops must be a point
  // where 0.76's read could have ended, or the rotation points (s4096) move
  await using t = await tree();
  const input = mixedInput(3, 120000, [0, 1, 2, 5]);
  assert(input.length > 300000 && input.length < 1 << 20, `input ${input.length}`);
  const args = ["t", "s4096", "n100000", "./d"];
  for (const who of ["hosted", "ours", "debian"]) {
    await Deno.mkdir(t.path(who));
    Deno.writeFileSync(t.path(`${who}/input`), input);
  }
  assertEquals(await hosted([{ dir: t.path("hosted"), args, input }]), [0]);
  const got = snapshot(t.path("hosted/d"));
  assert(got.split("\n== @STAMP.s").length > 500, "rotations");
  const r = await runWithFile(ours(), args, t.path("ours"), "input");
  assertEquals(r.code, 0, r.stderr);
  assertEquals(got, snapshot(t.path("ours/d")), "hosted vs standalone");
  const deb = debian("multilog");
  if (deb !== undefined) {
    const d = await runWithFile(deb, args, t.path("debian"), "input");
    assertEquals(d.code, 0, d.stderr);
    assertEquals(got, snapshot(t.path("debian/d")), "hosted vs Debian");
  }
});

Deno.test("hosted: a lossless logger's staging file ends where its staged input does, and is cut back to the partial line each round", async () => {
  // recovery takes the file's size for the end of the staged input, and replays a partial line
  // from the copy each cut-back puts at the start: both must hold after every batch and every
  // cut-back. Two loggers share the buffer, so batches also wait for the other's fsyncs
  await using t = await tree();
  const HDR = 4096;
  const inputs = [mixedInput(3, 900, LENGTHS), mixedInput(5, 900, LENGTHS)];
  const r = new Reactor();
  const codes: (number | undefined)[] = [undefined, undefined];
  const open: number[] = [];
  let batches = 0;
  const moved: number[] = [];
  const bad: string[] = [];
  try {
    for (const [i, input] of inputs.entries()) {
      Deno.mkdirSync(t.path(`l${i}`));
      const p = filledPipe(input);
      const dirfd = openDir(t.path(`l${i}`));
      open.push(p.rd, dirfd);
      const l = new HostedMultilog({
        reactor: r,
        fd: p.rd,
        args: ["t", "s16384", "n1000", "./d"],
        dirfd,
        staging: openStaging(dirfd, "hosted-input"),
        stagingRound: 20000,
        onExit: (c) => codes[i] = c,
      });
      l.start();
      // deno-lint-ignore no-explicit-any
      const lg = l as any;
      const st = lg.stage;
      assert(st !== null, "lossless");
      const size = () => Deno.statSync(t.path(`l${i}/hosted-input`)).size;
      const batch = lg.batch.bind(lg);
      lg.batch = function* (off: number, midLine: boolean) {
        yield* batch(off, midLine);
        if (size() !== st.end) bad.push(`${i}: size ${size()}, staged to ${st.end}`);
        batches++;
      };
      /** the offset in the input of the file's byte HDR */
      let base = 0;
      const rewind = st.rewind.bind(st);
      st.rewind = function* () {
        const upTo = base + st.end - HDR; // the input spliced so far
        yield* rewind();
        const P = st.end - HDR;
        const b = new Uint8Array(P);
        assertEquals(sys(NR.pread64, st.fd, addr(b), P, HDR), P);
        const want = input.subarray(upTo - P, upTo);
        if (b.some((x, j) => x !== want[j])) bad.push(`${i}: moved bytes differ at ${upTo}`);
        if (size() !== st.end) bad.push(`${i}: size ${size()} after a cut, staged to ${st.end}`);
        base = upTo - P;
        moved.push(P);
      };
    }
    await waitFor("the loggers' end", () => codes.every((c) => c !== undefined), 60000);
    assertEquals(codes, [0, 0]);
  } finally {
    for (const fd of open) sys(NR.close, fd);
    r.close();
    await r.idle();
  }
  assertEquals(bad, []);
  // at least a batch per 256 KiB read, and a cut-back after each but the last
  const reads = inputs.reduce((a, x) => a + Math.ceil(x.length / 262144), 0);
  assert(batches >= reads, `${batches} batches`);
  assert(moved.length >= reads - inputs.length, `${moved.length} cut-backs`);
  assert(moved.some((P) => P > 0), "no partial line moved");
  // and every line is there, once, with one stamp
  for (const [i, input] of inputs.entries()) {
    assertEquals(
      storedLines(t.path(`l${i}/d`)).map((l) => l.replace(/^@[0-9a-f]{24} /, "")),
      new TextDecoder().decode(input).split("\n"),
    );
  }
});

Deno.test("hosted: TERM mid-line finishes the line and leaves the rest in the pipe; ALRM rotates", async () => {
  await using t = await tree();
  const r = new Reactor();
  const p = filledPipe(new TextEncoder().encode("one\ntwo\nthr"), true);
  const dirfd = openDir(t.root);
  let code: number | undefined;
  const l = new HostedMultilog({
    reactor: r,
    fd: p.rd,
    args: ["./d"],
    dirfd,
    staging: openStaging(dirfd, "hosted-input"),
    onExit: (c) => code = c,
  });
  try {
    l.start();
    await waitFor("two lines", () => {
      try {
        return Deno.readTextFileSync(t.path("d/current")) === "one\ntwo\n";
      } catch {
        return false;
      }
    });
    l.rotate();
    await waitFor(
      "rotated",
      () => [...Deno.readDirSync(t.path("d"))].some((e) => e.name.endsWith(".s")),
    );
    assertEquals(Deno.readTextFileSync(t.path("d/current")), "");
    l.stop();
    sys(NR.write, p.wr, addr(new TextEncoder().encode("ee\nfour\n")), 8);
    await waitFor("ended", () => code !== undefined);
    assertEquals(code, 0);
    assertEquals(Deno.readTextFileSync(t.path("d/current")), "three\n");
    assertEquals(Deno.statSync(t.path("d/current")).mode! & 0o777, 0o744);
    const rest = new Uint8Array(16);
    assertEquals(
      new TextDecoder().decode(rest.subarray(0, sys(NR.read, p.rd, addr(rest), 16))),
      "four\n",
    );
  } finally {
    sys(NR.close, p.rd);
    sys(NR.close, p.wr);
    sys(NR.close, dirfd);
    r.close();
    await r.idle();
  }
});

Deno.test("hosted: a symlink planted as current is not followed (exit 111, target untouched)", async () => {
  await using t = await tree();
  await Deno.mkdir(t.path("d"));
  Deno.writeTextFileSync(t.path("outside"), "secret\n");
  Deno.symlinkSync(t.path("outside"), t.path("d/current"));
  const codes = await hosted([{
    dir: t.root,
    args: ["./d"],
    input: new TextEncoder().encode("x\n"),
  }]);
  assertEquals(codes, [111]);
  assertEquals(Deno.readTextFileSync(t.path("outside")), "secret\n");
  // the standalone program (0.76) follows it
  const r = await runWithFile(ours(), ["./d"], t.root, "/dev/null");
  assertEquals(r.code, 0);
});

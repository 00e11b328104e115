/**
 * Lossless hosting (issue 9 item 4): a hosted logger (tests/multilog_host_child.ts, a child
 * process running HostedMultilog on a Reactor) is killed with SIGKILL at random points while a
 * writer writes steadily through a FIFO in random pieces (lines cut anywhere); a new one starts
 * each time on the same FIFO (now and then a clean restart by TERM instead). With small `s`
 * many kills land inside rotations (and the processor's run). At the end every line is in the
 * log directory exactly once, whole, with one stamp, in order.
 */
import { assert, assertEquals } from "./assert.ts";
import { O_CLOEXEC, O_NONBLOCK, O_RDWR } from "../lib/libc.ts";
import { addr, AT_FDCWD, NR, sys, sysAt } from "../lib/sys.ts";
import { tree } from "./fixtures.ts";
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

function start(fifo: string, dir: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", CHILD, fifo, dir, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SCRIPTS = [
  ["t", "s16384", "n1000", "./main"],
  ["s8192", "n1000", "./main"],
  // many rotations (one per ~4 KB), so kills land inside them; with a processor too
  ["t", "s4096", "n1000", "./main"],
  ["t", "s4096", "n1000", "!cat", "./main"],
];

for (const args of SCRIPTS) {
  Deno.test(`lossless: SIGKILL of the host at random points loses and doubles nothing (${args.join(" ")})`, async () => {
    await using t = await tree();
    const fifo = t.path("fifo");
    mkfifo(fifo);
    // the writer's end (O_RDWR: opening never waits for a reader; it never reads)
    const wr = sysAt(NR.openat, AT_FDCWD, fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    assert(wr >= 0);
    let seed = 12345 + SCRIPTS.indexOf(args);
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
    let child = start(fifo, t.root, args);
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
          child = start(fifo, t.root, args);
          killAt = off + step();
        } else if (!ending && off >= killAt) {
          // with a processor, wait (writing on) for a rotation under way: `previous` exists
          // from the rename until the processor's output is finished
          if (args.includes("!cat") && !exists(t.path("main/previous")) && off < data.length) {
            continue;
          }
          if (exists(t.path("main/previous"))) inRotation++;
          if (rnd(4) === 0 && terms < 3) {
            child.kill("SIGTERM");
            ending = child.status.then((s) => done.status = s);
          } else {
            child.kill("SIGKILL");
            await child.status;
            kills++;
            child = start(fifo, t.root, args);
            killAt = off + step();
          }
        }
      }
      const last = lines[lines.length - 1] + "\n";
      await waitFor("every line logged", () => history(t.path("main")).endsWith(last), 60000);
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

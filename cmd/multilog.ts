/**
 * multilog SCRIPT: read log lines on stdin, select them with `+`/`-` patterns, stamp them
 * (`t`), show them (`e`), keep the last one (`=FILE`) and store them in automatically rotated
 * log directories (`./dir`, with `sSIZE`, `nNUM`, `!PROC`). daemontools 0.76 behaviour;
 * see docs/multilog.md.
 * @module
 */
import { fatalSys } from "../lib/msg.ts";
import { EAGAIN, EINTR } from "../lib/errors.ts";
import { Engine } from "../lib/multilog/engine.ts";
import { Readiness } from "../lib/multilog/input.ts";
import { runSync, StartError } from "../lib/multilog/logdir.ts";
import { parseScript } from "../lib/multilog/script.ts";
import * as sys from "../lib/multilog/sys.ts";

const P = "multilog";
/** largest read */
const INPUT = 262144;
/** pending bytes per log directory between commits */
const OUTPUT = 2 * INPUT;
/**
 * stdin pipe capacity asked for (F_SETPIPE_SZ; the default is 64 KiB): fewer, larger reads.
 * 256 KiB gives what 1 MiB gives here and charges the pipe's owner 64 pages, not 256,
 * against the per-user pipe quota (pipe-user-pages-soft).
 */
const PIPE_SIZE = 262144;
const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;

/** Entry point. */
export async function main(args: string[]): Promise<number> {
  // 0.76 blocks TERM and ALRM first thing; here they only set flags until the next read
  let term = false;
  let alrm = false;
  const ready = new Readiness(0);
  Deno.addSignalListener("SIGTERM", () => {
    term = true;
    ready.interrupt();
  });
  Deno.addSignalListener("SIGALRM", () => {
    alrm = true;
    ready.interrupt();
  });

  sys.umask(0o022);
  const startFd = sys.openRead(".");
  if (startFd < 0) fatalSys(P, "unable to switch to current directory", sys.lastErr());
  const script = parseScript(args);

  // f_init: =FILE actions, relative to the starting directory
  // (this process never changes directory: every log directory is used through its descriptor)
  const fileFds = script.files.map((f) => {
    let fd = sys.openAppend(f);
    if (fd < 0) fatalSys(P, `unable to create ${f}`, sys.lastErr());
    sys.close(fd);
    fd = sys.openWrite(f);
    if (fd < 0) fatalSys(P, `unable to write ${f}`, sys.lastErr());
    return fd;
  });

  // c_init: every log directory, in script order
  const engine = new Engine(script, fileFds, { input: INPUT, output: OUTPUT });
  for (const d of engine.dirs) {
    try {
      runSync(d.restart());
    } catch (e) {
      if (!(e instanceof StartError)) throw e;
      fatalSys(P, e.text, e.errno);
    }
  }

  const M = engine.M;
  // grow a smaller pipe (fails harmlessly on anything else, or beyond the user's pipe quota)
  const saved = sys.lastErr(); // not a call 0.76 makes: keep its stale errno intact
  const pipeSize = sys.fcntl(0, F_GETPIPE_SZ, 0);
  if (pipeSize > 0 && pipeSize < PIPE_SIZE) sys.fcntl(0, F_SETPIPE_SZ, PIPE_SIZE);
  sys.setErr(saved);
  let atNewline = true; // 0.76's flagnewline: the last byte read was \n
  for (;;) {
    engine.commitAll();
    if (alrm) {
      alrm = false;
      for (const d of engine.dirs) d.forceRotate();
    }
    if (term && atNewline) break;
    const woke = await ready.wait();
    if (woke === "signal") sys.setErr(EINTR); // 0.76's read() fails so (a stale errno later)
    if (woke !== "ready") continue;
    // after TERM, finish the line one byte at a time and leave the rest unread (0.76)
    const n = sys.read(0, M.subarray(0, term ? 1 : engine.inputSize));
    if (n < 0) {
      const e = sys.lastErr();
      if (e === EINTR || e === EAGAIN) continue;
      break; // 0.76 treats a read error like the end of input
    }
    if (n === 0) break;
    atNewline = M[n - 1] === 10;
    engine.process(0, n);
  }
  engine.eof();
  engine.commitAll();
  for (const d of engine.dirs) runSync(d.quit());
  return 0;
}

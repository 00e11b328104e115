/**
 * svscan [DIR]: supervise every service directory in DIR (default: the current directory),
 * daemontools 0.76 §6.1, with every supervisor hosted in THIS process (lib/service.ts on one
 * shared reactor) instead of one `supervise` process per service. Each service directory keeps
 * supervise's on-disk interface (lock, control and ok FIFOs, 18-byte status), so svc, svstat
 * and svok (ours or Debian's) work on it unchanged.
 *
 * Beyond 0.76 (see docs/svscan.md): new directories are picked up at once (directory watch;
 * the 5-second rescan stays as the fallback); DIR holding a `run` file or already scanned by
 * another svscan (lock `DIR/.svscan/lock`) is refused; TERM/INT stop every service in order
 * (services first, each logger once its service is gone and the pipe is drained) then exit 0,
 * HUP rescans; as pid 1 orphans are reaped; after a SIGKILL the next svscan adopts the
 * services still running and reopens their log pipes (named FIFOs in `DIR/.svscan/`).
 * `svscan DIR service errors: ....` (what svscanboot runs: a last argument of 5 or more dots)
 * shows svscan's and its children's errors in that argument, as readproctitle would
 * (lib/svscan/title.ts).
 * The work is in lib/svscan/ (host.ts: the process; scan.ts: 0.76's scan).
 * @module
 */
import { fatalSys } from "../lib/msg.ts";
import { leanHeap } from "../lib/svscan/heap.ts";
import { serve } from "../lib/svscan/host.ts";
import { showErrors, titleArg } from "../lib/svscan/title.ts";
import { NR, sysPath } from "../lib/sys.ts";

/** Entry point: runs until TERM/INT (or forever). */
export function main(args: string[]): void {
  leanHeap();
  const title = titleArg(args);
  if (title) showErrors(title);
  const dir = args[0];
  if (dir !== undefined) {
    const r = sysPath(NR.chdir, dir);
    if (r < 0) fatalSys("svscan", `unable to chdir to ${dir}`, -r);
  }
  serve(dir ?? ".");
}

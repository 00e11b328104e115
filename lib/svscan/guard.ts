/**
 * The misuse guard (an extension of 0.76): svscan refuses to scan a service directory (one
 * holding a `run` that is not a directory) and a directory another svscan already scans
 * (flock on `DIR/.svscan/lock`, held for the life of the process).
 * @module
 */
import { EAGAIN, EEXIST, ENOENT, ENOTDIR, errorStr } from "../errors.ts";
import { LOCK_EX, LOCK_NB, O_APPEND, O_CLOEXEC, O_CREAT, O_NONBLOCK, O_WRONLY } from "../libc.ts";
import { fatal, fatalSys, warn, warnSys } from "../msg.ts";
import { isDir, stat } from "../stat.ts";
import { NR, sys, sysPath } from "../sys.ts";
import { STATE_DIR } from "./pipe.ts";

/**
 * Check the current directory (printed as `label`) and take its lock. Exits 111 on misuse.
 * Returns false when the state directory or its lock cannot be had (no guard then, and no
 * named log pipes).
 */
export function guard(label: string): boolean {
  const run = stat("run");
  // a `run` that cannot be stat'ed (but exists) still means a service directory
  const service = typeof run === "number" ? run !== -ENOENT && run !== -ENOTDIR : !isDir(run.mode);
  if (service) {
    fatal("svscan", `${label} is a service directory (it holds run), not a scan directory`);
  }
  const made = sysPath(NR.mkdir, STATE_DIR, 0o755);
  if (made < 0 && made !== -EEXIST) {
    warn(
      "svscan",
      `unable to create ${label}/${STATE_DIR}: ${errorStr(-made)}: ` +
        `no guard against a second svscan, log pipes not kept across restarts`,
    );
    return false;
  }
  const fd = sysPath(
    NR.open,
    `${STATE_DIR}/lock`,
    O_WRONLY | O_NONBLOCK | O_APPEND | O_CREAT | O_CLOEXEC,
    0o600,
  );
  if (fd < 0) {
    warnSys("svscan", `unable to open ${label}/${STATE_DIR}/lock`, -fd);
    return false;
  }
  const locked = sys(NR.flock, fd, LOCK_EX | LOCK_NB);
  if (locked === -EAGAIN) fatal("svscan", `another svscan is already scanning ${label}`);
  if (locked < 0) fatalSys("svscan", `unable to lock ${label}/${STATE_DIR}/lock`, -locked);
  return true; // fd stays open (and locked) for the life of the process
}

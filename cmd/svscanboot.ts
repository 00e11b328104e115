/**
 * svscanboot [DIR]: what Debian's /usr/bin/svscanboot script does, as one
 * short-lived program. DIR defaults to /etc/service (the argument is an
 * extension; Debian's script takes none).
 *
 *   PATH=<this program's directory>:/command:/usr/local/bin:...:/usr/X11R6/bin
 *   exec </dev/null >/dev/null 2>/dev/null
 *   svc -dx DIR/* DIR/* /log
 *   env - PATH=$PATH svscan DIR 2>&1 | env - PATH=$PATH readproctitle service errors: ....
 *
 * Unlike the shell, nothing waits for the pipeline: readproctitle is
 * spawned with the pipe as stdin, then this process replaces itself (exec)
 * with svscan writing into the pipe. What stays resident is svscan and
 * readproctitle only. The directory this program was invoked from comes
 * first in PATH so the svscan/readproctitle/svc installed beside it are
 * the ones run.
 * @module
 */
import { cstr, cstrArray } from "../lib/bytes.ts";
import { libc, O_CLOEXEC, O_RDWR, SIG_DFL, SIGPIPE } from "../lib/libc.ts";
import { spawn } from "../lib/spawn.ts";

const BASE_PATH =
  "/command:/usr/local/bin:/usr/local/sbin:/bin:/sbin:/usr/bin:/usr/sbin:/usr/X11R6/bin";

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** Directory holding the program links this process was started from. */
function ownBinDir(): string | undefined {
  try {
    const mod = decodeURIComponent(new URL(Deno.mainModule).pathname);
    if (!mod.endsWith("/main.ts")) return dirname(mod);
    return dirname(Deno.realPathSync("/proc/self/exe"));
  } catch {
    return undefined;
  }
}

/** `sh` glob `DIR/*` (+ suffix): sorted non-dot names, or the pattern itself. */
function glob(dir: string, suffix: string): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.name.startsWith(".")) continue;
      if (suffix) {
        try {
          Deno.lstatSync(`${dir}/${e.name}${suffix}`);
        } catch {
          continue;
        }
      }
      out.push(`${dir}/${e.name}${suffix}`);
    }
  } catch {
    // unreadable: the shell leaves the pattern as is
  }
  out.sort();
  return out.length ? out : [`${dir}/*${suffix}`];
}

/** posix_spawnp `argv` with fd 0 = `stdin` (1, 2 already /dev/null); returns the pid or -1. */
function run(argv: string[], stdin: number): number {
  // as the shell script's children: nothing closed, signals at their defaults
  return spawn(argv[0], argv, { stdin, search: true, closeFrom: null }).pid || -1;
}

/** Entry point: never returns on success (becomes svscan). */
export function main(args: string[]): number {
  const dir = args[0] ?? "/etc/service";
  const own = ownBinDir();
  const path = own ? `${own}:${BASE_PATH}` : BASE_PATH;
  Deno.env.set("PATH", path);
  const c = libc();
  const devnull = c.open(cstr("/dev/null"), O_RDWR, 0);
  if (devnull >= 0) {
    for (const fd of [0, 1, 2]) c.dup2(devnull, fd);
    if (devnull > 2) c.close(devnull);
  }
  const svc = run(["svc", "-dx", ...glob(dir, ""), ...glob(dir, "/log")], 0);
  if (svc > 0) c.waitpid(svc, new Uint8Array(4), 0);
  const fds = new Int32Array(2);
  if (c.pipe2(new Uint8Array(fds.buffer), O_CLOEXEC) !== 0) return 111;
  const dots = ".".repeat(400);
  run(["env", "-", `PATH=${path}`, "readproctitle", "service", "errors:", dots], fds[0]);
  c.close(fds[0]);
  c.dup2(fds[1], 1);
  c.dup2(fds[1], 2);
  c.close(fds[1]);
  c.signal(SIGPIPE, SIG_DFL);
  const argv = cstrArray(["env", "-", `PATH=${path}`, "svscan", dir]);
  c.execvp(cstr("env"), argv.ptrs);
  return 111;
}

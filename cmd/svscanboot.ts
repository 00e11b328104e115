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
 * except that readproctitle is folded into svscan: this process replaces
 * itself (exec) with `env - PATH=$PATH svscan DIR service errors: ....`
 * (400 dots), and svscan shows its own and its children's errors in that
 * last argument as readproctitle would (lib/svscan/title.ts). What stays
 * resident is one process, svscan. The directory this program was invoked
 * from comes first in PATH so the svscan/svc installed beside it are the
 * ones run.
 * @module
 */
import { cstr, cstrArray, encode, startsWith } from "../lib/bytes.ts";
import { environ, launcherPath } from "../lib/launch.ts";
import { pathexecRun, resetSignals } from "../lib/chain/exec.ts";
import { O_RDWR } from "../lib/libc.ts";
import { spawn } from "../lib/spawn.ts";
import { lstat } from "../lib/stat.ts";
import { readNames } from "../lib/readdir.ts";
import { addr, NR, sys, sysPath } from "../lib/sys.ts";

const BASE_PATH =
  "/command:/usr/local/bin:/usr/local/sbin:/bin:/sbin:/usr/bin:/usr/sbin:/usr/X11R6/bin";

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** Directory holding the program links this process was started from. */
function ownBinDir(): string | undefined {
  const link = launcherPath(); // through the launcher: the link this was invoked by
  if (link.includes("/")) return dirname(link);
  try {
    const mod = decodeURIComponent(new URL(Deno.mainModule).pathname);
    if (!mod.endsWith("/main.ts")) return dirname(mod);
    return dirname(Deno.realPathSync("/proc/self/exe"));
  } catch {
    return undefined;
  }
}

/** `sh` glob `DIR/*` (+ suffix): sorted non-dot names (as bytes), or the pattern itself. */
function glob(dir: string, suffix: string): string[] {
  const names = readNames(dir);
  const out: string[] = [];
  if (typeof names !== "number") {
    for (const name of names) {
      if (name.startsWith(".")) continue;
      const path = `${dir}/${name}${suffix}`;
      if (suffix && typeof lstat(path) === "number") continue;
      out.push(path);
    }
  }
  // the shell sorts by the bytes (C locale)
  const key = (s: string) => encode(s);
  out.sort((a, b) => compareBytes(key(a), key(b)));
  return out.length ? out : [`${dir}/*${suffix}`];
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * posix_spawnp `argv` with fd 0 = `stdin` (1, 2 already /dev/null) and environment `env`;
 * returns the pid or -1.
 */
function run(argv: string[], stdin: number, env: Uint8Array[]): number {
  // as the shell script's children: nothing closed, signals at their defaults
  return spawn(argv[0], argv, { stdin, search: true, closeFrom: null, env }).pid || -1;
}

/** Entry point: never returns on success (becomes svscan). */
export function main(args: string[]): number {
  const dir = args[0] ?? "/etc/service";
  const own = ownBinDir();
  const path = own ? `${own}:${BASE_PATH}` : BASE_PATH;
  Deno.env.set("PATH", path); // posix_spawnp searches this process's PATH
  // the script's `export PATH`: the caller's environment with PATH replaced (or added)
  const env = environ().filter((e) => !startsWith(e, encode("PATH=")));
  env.push(encode(`PATH=${path}`));
  const devnull = sysPath(NR.open, "/dev/null", O_RDWR, 0);
  if (devnull >= 0) {
    for (const fd of [0, 1, 2]) sys(NR.dup2, devnull, fd);
    if (devnull > 2) sys(NR.close, devnull);
  }
  const svc = run(["svc", "-dx", ...glob(dir, ""), ...glob(dir, "/log")], 0, env);
  if (svc > 0) sys(NR.wait4, svc, addr(new Int32Array(1)), 0, 0);
  resetSignals();
  const dots = ".".repeat(400);
  const argv = cstrArray(["env", "-", `PATH=${path}`, "svscan", dir, "service", "errors:", dots]);
  const envp = cstrArray([`PATH=${path}`]);
  pathexecRun(encode("env"), encode(path), (cand) => {
    const file = cstr(cand);
    return -sys(NR.execve, addr(file), addr(argv.ptrs), addr(envp.ptrs));
  });
  return 111;
}

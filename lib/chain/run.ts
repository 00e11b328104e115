/**
 * Running a chain: the first link's effect, then every following program of ours in this
 * process (one Deno start-up for a whole `envdir ... setuidgid ... softlimit ...` chain), and
 * the first foreign program exec'd.
 * @module
 */
import { RLIMIT_AS, RLIMIT_DATA } from "../libc.ts";
import { fatalSys } from "../msg.ts";
import { isLink, loadNamed, loadProgram, type Main } from "../programs.ts";
import { Chain } from "./chain.ts";
import { applyPlan } from "./limits.ts";

/**
 * What a chain loader does to the process (or records in `ctx`): returns the child's argv, or
 * an exit code. `argv0`: the name the link was invoked by (for getopt's messages).
 */
export type Apply = (args: string[], ctx: Chain, argv0: string) => string[] | number;

/** Message `PROG: fatal: unable to run FILE: ERR`, exit 111. */
function cannotRun(prog: string, file: string, err: number): never {
  fatalSys(prog, `unable to run ${file}`, err);
}

/**
 * Run chain loader `prog` (whose effect is `apply`) with `args`, then every following program
 * of ours in this process, and exec the first foreign one.
 */
export async function runChain(prog: string, apply: Apply, args: string[]): Promise<number | void> {
  const ctx = new Chain([prog, ...args]);
  // every program of ours named in the chain is imported before any link changes the process
  // (setuidgid may take away the right to read our own files); dispatch() started it
  await loadNamed(args);
  let name = prog;
  let fn = apply;
  let argv = args;
  let argv0 = prog;
  for (;;) {
    const path = ctx.env.get("PATH"); // pathexec_run reads PATH from the environ it runs in
    const child = fn(argv, ctx, argv0);
    if (typeof child === "number") return child;
    const envp = ctx.env.commit();
    const r = ctx.run(child[0], child, envp, path);
    if ("errno" in r) cannotRun(name, child[0], r.errno);
    name = r.ours;
    argv0 = child[0];
    argv = child.slice(1);
    if (isLink(name)) {
      fn = ((await loadProgram(name)) as { apply: Apply }).apply;
      continue;
    }
    // the chain ends in another program of ours: run it here as a fresh start-up would
    let mod: { main: Main };
    try {
      mod = (await loadProgram(name)) as { main: Main };
    } catch {
      // cannot load it here (e.g. unreadable after setuidgid): exec it for real
      const again = ctx.execFile(r.candidate, child, envp);
      cannotRun(prog, child[0], again);
    }
    ctx.env.publish();
    // setlock's locks stay open for the program's own children, as they would in 0.76
    ctx.fds.keepOpen();
    // a fresh start-up would run under the limits too, but for address space and data: the
    // runtime needs gigabytes of address space and would die at its next heap growth
    applyPlan(ctx.limits.plan((r) => r !== RLIMIT_AS && r !== RLIMIT_DATA));
    return await mod.main(argv);
  }
}

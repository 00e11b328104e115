/**
 * The state of one chain (one per process): the environment the next program gets, soft limits
 * still to apply, descriptors to hand on, and the exec with in-process chaining.
 * @module
 */
import { basename, cstr, type CstrArray, cstrArray, encode } from "../bytes.ts";
import { bindNow } from "../libc.ts";
import { chainable, TERMINALS } from "../programs.ts";
import { addr, NR, sysPath } from "../sys.ts";
import { Handoffs } from "./descriptors.ts";
import { Environ } from "./environ.ts";
import { execBurst, isSelf, pathexecRun, resetSignals, warmUp } from "./exec.ts";
import { type LimitPlan, Limits } from "./limits.ts";

/** What {@linkcode Chain.run} found: a program of ours to run here, or the errno to report. */
export type RunResult = { ours: string; candidate: Uint8Array } | { errno: number };

/** The state of one chain. */
export class Chain {
  /** The environment (see lib/chain/environ.ts). */
  readonly env: Environ;
  /** Soft limits set but not applied yet (see lib/chain/limits.ts). */
  readonly limits = new Limits();
  /** Descriptors handed to the program (see lib/chain/descriptors.ts). */
  readonly fds = new Handoffs();

  /**
   * Which threads a credential change must reach: all of them when the chain names a program of
   * ours that would keep this process running (multilog, svscan, ..., and fghack, which stays to
   * wait for its child), else only the calling one, which is the one that will execve (see
   * lib/account.ts).
   */
  readonly reach: "all" | "caller";

  /** `words`: the chain's command line (to bind the libc symbols it will use at once). */
  constructor(words: string[] = []) {
    const resident = (w: string) => TERMINALS.includes(w) || w === "fghack";
    this.reach = words.some((w) => resident(basename(w))) ? "all" : "caller";
    // one dlopen for the libc symbols the chain will need (each dlopen costs ~1 ms, each
    // symbol ~0.1 ms); the system calls have their own (lib/sys.ts)
    if (words.some((w) => w.endsWith("uidgid"))) {
      if (this.reach === "caller") bindNow("getpwnam");
      else bindNow("getpwnam", "setgroups", "setgid", "setuid");
    }
    this.env = new Environ();
  }

  /**
   * Make the process what the exec'd program must start as (but for the limits: see
   * {@linkcode execBurst}): SIGPIPE default, handed-on descriptors at their numbers. Returns how
   * to undo it if every execve fails.
   */
  private prepare(): () => void {
    const fds = this.fds.place();
    const signals = resetSignals();
    return () => {
      signals();
      fds();
    };
  }

  /** Everything an exec needs, made before any limit is applied. */
  private execSetup(): LimitPlan {
    const plan = this.limits.plan();
    warmUp();
    return plan;
  }

  /**
   * `pathexec_run` with in-process chaining: returns the name of our program to run here (and
   * the candidate path), or leaves the process image via execve, or returns the errno to
   * report.
   */
  run(file: string, argv: string[], envp: Uint8Array[], path: Uint8Array | undefined): RunResult {
    let undoExec: (() => void) | undefined;
    let vec: { argv: CstrArray; envp: CstrArray } | undefined;
    let plan: LimitPlan | undefined;
    const name = basename(file);
    let found: Uint8Array | undefined;
    const err = pathexecRun(encode(file), path, (cand) => {
      const ours = this.ours(cand, name);
      if (ours === 0) found = cand;
      if (ours !== undefined) return ours;
      vec ??= { argv: cstrArray(argv), envp: cstrArray(envp) };
      plan ??= this.execSetup();
      const p = cstr(cand);
      const [pa, aa, ea] = [addr(p), addr(vec.argv.ptrs), addr(vec.envp.ptrs)];
      undoExec ??= this.prepare();
      return execBurst(plan, pa, aa, ea);
    });
    undoExec?.();
    if (found !== undefined) return { ours: name, candidate: found };
    return { errno: err };
  }

  /**
   * For a candidate that is this executable under one of our program names: 0 if it would run
   * (executable), else the errno execve would give. undefined for anything else (exec it for
   * real).
   */
  private ours(cand: Uint8Array, name: string): number | undefined {
    if (!chainable(name) || !isSelf(cand)) return undefined;
    const r = sysPath(NR.access, cand, 1 /* X_OK */);
    return r < 0 ? -r : 0;
  }

  /** execve one file (no search, no in-process chaining); returns the errno when it fails. */
  execFile(file: Uint8Array, argv: string[], envp: Uint8Array[]): number {
    const a = cstrArray(argv);
    const e = cstrArray(envp);
    const plan = this.execSetup();
    const path = cstr(file);
    const [pa, aa, ea] = [addr(path), addr(a.ptrs), addr(e.ptrs)];
    const undo = this.prepare();
    const err = execBurst(plan, pa, aa, ea);
    undo();
    return err;
  }
}

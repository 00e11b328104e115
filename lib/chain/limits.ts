/**
 * Soft limits a chain sets for the program it will exec. Limits on resources the Deno runtime
 * itself consumes would starve the process that runs the rest of the chain, so their soft part
 * waits for the exec (see docs/chain-loaders.md, "Soft limits").
 * @module
 */
import {
  RLIMIT_AS,
  RLIMIT_CPU,
  RLIMIT_DATA,
  RLIMIT_NOFILE,
  RLIMIT_NPROC,
  RLIMIT_STACK,
} from "../libc.ts";
import { addr, NR, sys } from "../sys.ts";

/** Resources whose soft limit would starve the Deno runtime itself: applied right before exec. */
const DEFERRED = new Set([
  RLIMIT_AS,
  RLIMIT_DATA,
  RLIMIT_STACK,
  RLIMIT_CPU,
  RLIMIT_NOFILE,
  // processes: the runtime's threads count as processes of the account after setuidgid, so an
  // early limit would make the final execve fail with EAGAIN where 0.76's one process passes
  RLIMIT_NPROC,
]);

/** True if `resource`'s soft limit is applied at exec time rather than at once. */
export function isDeferred(resource: number): boolean {
  return DEFERRED.has(resource);
}

/** Deferred soft limits prepared for setrlimit: resource, new and old buffers' addresses. */
export interface LimitPlan {
  res: number[];
  set: bigint[];
  old: bigint[];
  keep: BigUint64Array[];
}

/** A plan that sets nothing. */
export const NO_LIMITS: LimitPlan = { res: [], set: [], old: [], keep: [] };

/** Apply a plan's limits (`restore`: put the old ones back). Allocates nothing. */
export function applyPlan(plan: LimitPlan, restore = false): void {
  const addrs = restore ? plan.old : plan.set;
  for (let i = 0; i < plan.res.length; i++) sys(NR.setrlimit, plan.res[i], addrs[i]);
}

/** The soft limits a chain has set but not applied yet. */
export class Limits {
  private deferred = new Map<number, bigint>();

  /**
   * Lower (or, with `max`, raise the hard and then) the soft limit of a deferred resource: the
   * hard part is done now (so its error shows now), the soft value right before exec. Returns 0
   * or the errno of the failing call.
   */
  limit(resource: number, cur: bigint, max: bigint | undefined): number {
    if (!DEFERRED.has(resource)) return 0;
    if (max !== undefined) {
      const r = new BigUint64Array(2);
      const got = sys(NR.getrlimit, resource, addr(r));
      if (got < 0) return -got;
      if (r[1] !== max) {
        r[1] = max;
        if (r[0] > max) r[0] = max;
        const set = sys(NR.setrlimit, resource, addr(r));
        if (set < 0) return -set;
      }
    }
    this.deferred.set(resource, cur);
    return 0;
  }

  /** The soft limit softlimit should start from: a deferred one if any. */
  pendingSoft(resource: number): bigint | undefined {
    return this.deferred.get(resource);
  }

  /**
   * The deferred soft limits (those `keep` accepts) as buffers ready for setrlimit, plus the
   * current ones to restore. Address space and data come last: once they are set the runtime
   * may be unable to allocate.
   */
  plan(keep: (resource: number) => boolean = () => true): LimitPlan {
    const plan: LimitPlan = { res: [], set: [], old: [], keep: [] };
    const order = [...this.deferred.keys()].filter(keep).sort((a, b) =>
      Number(a === RLIMIT_AS || a === RLIMIT_DATA) - Number(b === RLIMIT_AS || b === RLIMIT_DATA)
    );
    for (const res of order) {
      const old = new BigUint64Array(2);
      if (sys(NR.getrlimit, res, addr(old)) < 0) continue;
      const cur = this.deferred.get(res)!;
      const set = new BigUint64Array([cur < old[1] ? cur : old[1], old[1]]);
      plan.res.push(res);
      plan.set.push(addr(set));
      plan.old.push(addr(old));
      plan.keep.push(set, old);
    }
    return plan;
  }
}

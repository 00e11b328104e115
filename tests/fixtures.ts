/**
 * Shared fixtures: a scratch tree of service directories that removes itself (with every
 * process still working in it), and the differential helpers that run our programs against
 * Debian's daemontools. A comparison with Debian is its own test, registered with
 * `ignore` when Debian's programs are absent: it is reported as ignored, never passed silently.
 * @module
 */
import { assertEquals } from "./assert.ts";
import { encodeStatus, type Want } from "../lib/status.ts";
import { fromUnix } from "../lib/tai64n.ts";
import {
  debian,
  mkfifo,
  processesUnder,
  prog,
  type Ran,
  run,
  type RunOptions,
  scratch,
  script,
  waitFor,
} from "./util.ts";

/** A ./run that sleeps for good. */
export const SLEEP = "#!/bin/sh\nexec sleep 100000\n";

/** What a fake supervise (see {@linkcode Tree.supervised}) shows in its status file. */
export interface FakeStatus {
  pid: number;
  paused?: boolean;
  want: Want;
  /** The stamp's unix time; by default far in the future, so svstat prints "0 seconds". */
  stampUnix?: number;
  /** Also make a `down` file. */
  down?: boolean;
}

/**
 * A scratch directory of service directories. Disposing of it (`await using t = await tree()`,
 * or {@linkcode Tree.dispose} in a finally) runs what was deferred, kills every process whose
 * cwd lies in it, and removes it.
 */
export class Tree implements AsyncDisposable {
  #deferred: (() => void | Promise<void>)[] = [];

  constructor(readonly root: string) {}

  /** `root/name`. */
  path(name: string): string {
    return `${this.root}/${name}`;
  }

  /** Service directory `name` with a ./run script (and a `down` file, a log/run); its path. */
  async service(
    name: string,
    opts: { run?: string; down?: boolean; log?: string } = {},
  ): Promise<string> {
    const d = this.path(name);
    await Deno.mkdir(d, { recursive: true });
    await script(`${d}/run`, opts.run ?? SLEEP);
    if (opts.down) await Deno.writeTextFile(`${d}/down`, "");
    if (opts.log !== undefined) {
      await Deno.mkdir(`${d}/log`);
      await script(`${d}/log/run`, opts.log);
    }
    return d;
  }

  /**
   * Directory `name` that svstat and svok take as supervised: `supervise/ok` is a FIFO this
   * tree holds open for reading until it is disposed of; with `st`, a status file too.
   */
  async supervised(name: string, st?: FakeStatus): Promise<string> {
    const d = this.path(name);
    await Deno.mkdir(`${d}/supervise`, { recursive: true });
    mkfifo(`${d}/supervise/ok`);
    // read+write: does not block, and keeps a reader on the FIFO
    const held = Deno.openSync(`${d}/supervise/ok`, { read: true, write: true });
    this.defer(() => held.close());
    if (st) {
      const stamp = fromUnix(BigInt(st.stampUnix ?? 4_000_000_000), 500);
      await Deno.writeFile(
        `${d}/supervise/status`,
        encodeStatus({ stamp, pid: st.pid, paused: st.paused ?? false, want: st.want }),
      );
      if (st.down) await Deno.writeFile(`${d}/down`, new Uint8Array());
    }
    return d;
  }

  /**
   * Start `CMD ARGS` in the tree's root (e.g. `supervise DIR`), stdio on /dev/null but for
   * `stderr` ("piped": to read it); SIGKILLed when the tree is disposed of.
   */
  spawn(cmd: string, args: string[], stderr: "null" | "piped" = "null"): Deno.ChildProcess {
    const child = new Deno.Command(cmd, {
      args,
      cwd: this.root,
      stdin: "null",
      stdout: "null",
      stderr,
    }).spawn();
    this.defer(async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    });
    return child;
  }

  /** Run `f` at disposal, before the processes are killed (last deferred first). */
  defer(f: () => void | Promise<void>): void {
    this.#deferred.push(f);
  }

  /** Run the deferred, kill every process working in the tree, remove it. */
  async dispose(): Promise<void> {
    for (const f of this.#deferred.splice(0).reverse()) await f();
    for (let i = 0; i < 3; i++) {
      const left = processesUnder(this.root);
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
      await waitFor("processes in the tree to die", () => processesUnder(this.root).length === 0)
        .catch(() => {});
    }
    await Deno.remove(this.root, { recursive: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** A fresh {@linkcode Tree} in a new temp directory. */
export async function tree(prefix = "dt-test-"): Promise<Tree> {
  return new Tree(await scratch(prefix));
}

// ------------------------------------------------------------------ ours against Debian's

/** Paths of Debian's programs, by name. */
export type Debian = Record<string, string>;

/**
 * Register a test that needs Debian's programs `needs` (given to `fn` by name). It is reported
 * as ignored when any of them is absent (or `ignore` is true).
 */
export function differential(
  name: string,
  needs: string[],
  fn: (deb: Debian) => Promise<void>,
  ignore = false,
): void {
  const deb: Debian = {};
  for (const n of needs) {
    const p = debian(n);
    if (p !== undefined) deb[n] = p;
  }
  const present = needs.every((n) => n in deb);
  Deno.test({ name, ignore: ignore || !present, fn: () => fn(deb) });
}

/** {@linkcode run} options for {@linkcode compare}. */
export interface CompareOptions extends RunOptions {
  /** A command prefix both programs run under (e.g. `[setuidgid, "nobody"]`). */
  via?: string[];
}

function runVia(path: string, args: string[], opts: CompareOptions): Promise<Ran> {
  const [cmd, ...pre] = [...(opts.via ?? []), path];
  return run(cmd, [...pre, ...args], opts);
}

/**
 * Run our `name`, then Debian's, with the same arguments and options: they must give the same
 * exit code, stdout and stderr. Returns ours. (Only within a {@linkcode differential} test.)
 */
export async function compare(
  name: string,
  args: string[],
  opts: CompareOptions = {},
): Promise<Ran> {
  const ours = await runVia(prog(name), args, opts);
  const theirs = await runVia(debianOf(name), args, opts);
  assertEquals(
    [ours.code, ours.stdout, ours.stderr],
    [theirs.code, theirs.stdout, theirs.stderr],
    `${name} ${args.join(" ")} (ours vs Debian)`,
  );
  return ours;
}

/**
 * `f` on our `name`'s path, then on Debian's: the results must be deeply equal. Returns ours.
 * (Only within a {@linkcode differential} test.)
 */
export async function same<T>(name: string, f: (path: string) => Promise<T>): Promise<T> {
  const ours = await f(prog(name));
  const theirs = await f(debianOf(name));
  assertEquals(ours, theirs, `${name}: ours vs Debian`);
  return ours;
}

function debianOf(name: string): string {
  const p = debian(name);
  if (p === undefined) throw new Error(`Debian's ${name} is absent: use differential()`);
  return p;
}

/** What a {@linkcode versus} test gets: our programs alone, or compared with Debian's. */
export interface Versus {
  /** True in the registration that compares with Debian's programs. */
  readonly debian: boolean;
  /** Run our `name`; when comparing, Debian's too, as {@linkcode compare} does. Returns ours. */
  run(name: string, args: string[], opts?: CompareOptions): Promise<Ran>;
  /** `f` on our `name`; when comparing, on Debian's too, as {@linkcode same} does. */
  same<T>(name: string, f: (path: string) => Promise<T>): Promise<T>;
}

const alone: Versus = {
  debian: false,
  run: (name, args, opts = {}) => runVia(prog(name), args, opts),
  same: (name, f) => f(prog(name)),
};

const compared: Versus = { debian: true, run: compare, same };

/**
 * Register `name` twice: on our programs alone (always runs), and as `name [vs Debian]` where
 * every `vs.run`/`vs.same` also runs Debian's `needs` and compares (ignored without them).
 * The body's own assertions hold in both.
 */
export function versus(name: string, needs: string[], fn: (vs: Versus) => Promise<void>): void {
  Deno.test(name, () => fn(alone));
  differential(`${name} [vs Debian]`, needs, () => fn(compared));
}

/**
 * {@linkcode versus} on a fresh scratch {@linkcode Tree} in each registration (disposed of when
 * the body ends): `versusTree("svstat: ...", ["svstat"], async (vs, t) => { ... })`.
 */
export function versusTree(
  name: string,
  needs: string[],
  fn: (vs: Versus, t: Tree) => Promise<void>,
): void {
  versus(name, needs, async (vs) => {
    await using t = await tree();
    await fn(vs, t);
  });
}

/**
 * svscan benchmark, ours side by side with Debian's daemontools in the same run:
 * - tree memory (PSS from /proc/PID/smaps_rollup) with N = 1, 100, 500 `sleep` services;
 *   tree = svscan (+ every supervise for daemontools), the services themselves excluded;
 * - boot: scanner start -> 100 services running (pids in their status files);
 * - pickup: a service directory renamed into the scan directory -> its process running;
 * - idle CPU of the tree with 100 services (schedstat, every thread), scaled to 60 s.
 * Usage: deno run -A bench/svscan.ts   (env IDLE_S = idle window in seconds, default 20;
 * IDLE_FROM_S = its start after svscan's start, default 40). About 2 minutes.
 * @module
 */
import { build, cpuNs, killTree, smapsKb, statusPid, tree } from "./_common.ts";

const IDLE_S = Number(Deno.env.get("IDLE_S") ?? 20);
/** The idle window starts this long after our svscan started (V8's start-up GC is over). */
const IDLE_FROM_S = Number(Deno.env.get("IDLE_FROM_S") ?? 40);
/** Memory is read this long after every service is up. */
const SETTLE_MS = 6000;
const RUN = "#!/bin/sh\nexec sleep 100000\n";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function makeServices(dir: string, n: number, prefix = "s"): void {
  for (let i = 0; i < n; i++) {
    const d = `${dir}/${prefix}${i}`;
    Deno.mkdirSync(d);
    Deno.writeTextFileSync(`${d}/run`, RUN, { mode: 0o755 });
  }
}

const pssKb = (pids: number[]) => smapsKb(pids, "Pss");
/** Private memory (USS): what the tree alone costs, whatever else shares its files. */
const ussKb = (pids: number[]) => smapsKb(pids, "Private_Clean", "Private_Dirty");

interface Flavor {
  name: string;
  svscan: string;
  path: string;
}

/** A scanner running on a fresh directory with `n` services. */
class Tree {
  dir: string;
  child: Deno.ChildProcess;
  t0: number;
  constructor(readonly f: Flavor, readonly n: number) {
    this.dir = Deno.makeTempDirSync({ prefix: `dt-bench-${f.name}-` });
    makeServices(this.dir, n);
    this.t0 = performance.now();
    this.child = new Deno.Command(f.svscan, {
      args: [this.dir],
      env: { PATH: f.path },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  }
  /** ms from start until every service runs. */
  async allUp(): Promise<number> {
    const pending = new Set(Array.from({ length: this.n }, (_, i) => `${this.dir}/s${i}`));
    while (pending.size) {
      for (const s of pending) if (statusPid(s)) pending.delete(s);
      if (pending.size) await sleep(10);
      if (performance.now() - this.t0 > 120_000) throw new Error(`${this.f.name}: boot timeout`);
    }
    return performance.now() - this.t0;
  }
  pids(): number[] {
    return tree(this.child.pid);
  }
  async stop(): Promise<void> {
    await killTree(this.child, this.dir);
  }
}

async function pickup(f: Flavor, phasesMs: number[]): Promise<number[]> {
  const t = new Tree(f, 1);
  await t.allUp();
  await sleep(300);
  const out: number[] = [];
  let i = 0;
  for (const phase of phasesMs) {
    await sleep(phase);
    const tmp = `${t.dir}/.new${i}`;
    Deno.mkdirSync(tmp);
    Deno.writeTextFileSync(`${tmp}/run`, RUN, { mode: 0o755 });
    const svc = `${t.dir}/p${i++}`;
    const t0 = performance.now();
    Deno.renameSync(tmp, svc);
    while (!statusPid(svc)) {
      await sleep(1);
      if (performance.now() - t0 > 15_000) throw new Error("pickup timeout");
    }
    out.push(performance.now() - t0);
  }
  await t.stop();
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (x: number, d = 1) => x.toFixed(d);

async function main() {
  const bin = build();
  const ours: Flavor = { name: "ours", svscan: `${bin}/svscan`, path: `${bin}:/usr/bin:/bin` };
  const deb: Flavor = { name: "daemontools", svscan: "/usr/bin/svscan", path: "/usr/bin:/bin" };
  const haveDeb = (() => {
    try {
      Deno.statSync("/usr/bin/supervise");
      return true;
    } catch {
      return false;
    }
  })();
  const flavors = haveDeb ? [ours, deb] : [ours];
  const rows: [string, string, number, number | undefined][] = [];

  // memory at N = 1 and 500: both flavors side by side, PSS after SETTLE_MS (V8 settles)
  const mem: Record<string, Record<number, number>> = {};
  const put = (f: Flavor, k: number, v: number) => ((mem[f.name] ??= {})[k] = v);
  for (const n of [1, 500]) {
    const trees: Tree[] = [];
    for (const f of flavors) {
      const t = new Tree(f, n);
      await t.allUp();
      trees.push(t);
    }
    await sleep(SETTLE_MS);
    for (const t of trees) put(t.f, n, pssKb(t.pids()));
    for (const t of trees) put(t.f, 10_000 + n, ussKb(t.pids()));
    for (const t of trees) await t.stop();
  }
  // N = 100: boot time (one flavor at a time), then idle CPU of both trees over the same
  // window starting IDLE_FROM_S after our start (steady state: V8 start-up GC work is over),
  // then PSS
  const trees: Tree[] = [];
  for (const f of flavors) {
    const t = new Tree(f, 100);
    put(f, -1, await t.allUp());
    trees.push(t);
  }
  const from = trees[0].t0 + IDLE_FROM_S * 1000;
  await sleep(Math.max(0, from - performance.now()));
  const before = trees.map((t) => cpuNs(t.pids()));
  await sleep(IDLE_S * 1000);
  trees.forEach((t, i) => put(t.f, -2, ((cpuNs(t.pids()) - before[i]) / 1e6) * (60 / IDLE_S)));
  for (const t of trees) put(t.f, 100, pssKb(t.pids()));
  // cost of one full rescan of 100 services (ours: HUP; 0.76 does one every 5 s)
  const oursTree = trees[0];
  const c0 = cpuNs(oursTree.pids());
  Deno.kill(oursTree.child.pid, "SIGHUP");
  await sleep(2000);
  const hupMs = (cpuNs(oursTree.pids()) - c0) / 1e6;
  for (const t of trees) await t.stop();

  const get = (f: Flavor, k: number) => mem[f.name]?.[k];
  const add = (label: string, unit: string, k: number | ((f: Flavor) => number | undefined)) => {
    const v = (f: Flavor) => (typeof k === "number" ? get(f, k) : k(f));
    rows.push([label, unit, v(ours)!, haveDeb ? v(deb) : undefined]);
  };
  add("tree PSS, N=1", "kB", 1);
  add("tree PSS, N=100", "kB", 100);
  add("tree PSS, N=500", "kB", 500);
  add("PSS per extra service (1->500)", "kB", (f) => (get(f, 500)! - get(f, 1)!) / 499);
  add(
    "USS (private) per extra service (1->500)",
    "kB",
    (f) => (get(f, 10_500)! - get(f, 10_001)!) / 499,
  );
  add("boot: 100 services up", "ms", -1);
  add(`idle CPU, 100 services (ms per 60 s; ${IDLE_S} s window)`, "ms", -2);
  rows.push(["one rescan of 100 services (ours: SIGHUP)", "ms", hupMs, undefined]);

  // pickup: ours 10 samples; daemontools at 5 phases spread over its 5-second cycle
  const pk: Record<string, number> = {};
  pk.ours = median(await pickup(ours, Array(10).fill(150)));
  if (haveDeb) pk.daemontools = median(await pickup(deb, [500, 1250, 1250, 1250]));
  rows.push(["pickup of a new service (median)", "ms", pk.ours, pk.daemontools]);

  console.log(`| metric | unit | ours | daemontools | ours/daemontools |`);
  console.log(`|---|---|---:|---:|---:|`);
  for (const [label, unit, o, d] of rows) {
    const ratio = d === undefined || d === 0 ? "-" : fmt(o / d, 3);
    console.log(
      `| ${label} | ${unit} | ${fmt(o)} | ${d === undefined ? "-" : fmt(d)} | ${ratio} |`,
    );
  }
  Deno.removeSync(bin, { recursive: true });
}

await main();

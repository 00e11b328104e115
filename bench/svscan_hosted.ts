/**
 * svscan with hosted loggers (issue 9), ours side by side with Debian's daemontools in the same
 * run:
 * - tree memory with N logged services (`exec sleep` + `log/run` `exec multilog t ./main`),
 *   N = 1, 10, 100, 200: processes, PSS, anonymous memory (smaps_rollup; tree = the scanner and
 *   everything under it except the `sleep`s);
 * - throughput: MB of 100-byte lines (a service `cat`s a file) through one logger
 *   `t s16777215 n5`, from `svc -u` to the last line in `current`, and the tree's CPU; ours
 *   hosted, ours with the opt-out file (the logger a multilog process), Debian's; ROUNDS rounds
 *   (default 3), the trees interleaved, and their medians;
 * - `svc -t` latency of another service (`t` written to its control, until its status shows the
 *   new pid) while one logger
 *   takes a flood (`yes` of 100-byte lines), median of 15, and without the flood.
 * Usage: deno run -A bench/svscan_hosted.ts [MB]   (default 200; about 4 minutes)
 *   ONLY=memory,throughput,latency picks parts; ROUNDS=n throughput rounds; WARM=1 measures
 *   a second pass of the lines through the same tree instead of the first; ALSO=DIR adds to the
 *   throughput rounds the hosted tree of another build (`scripts/build.sh DIR SRC`, e.g. of an
 *   earlier commit's worktree), interleaved with the others.
 * @module
 */
import {
  build,
  cpuNs,
  killTree,
  median,
  restartLatencies,
  sleep,
  smapsKb,
  statusPid,
  tree as allUnder,
  waitFor,
} from "./_common.ts";

/** Every pid under `root`, the services (`sleep`, `yes`, `cat`) excluded. */
const tree = (root: number) => allUnder(root, ["sleep", "yes", "cat"]);

const MB = Number(Deno.args[0] ?? 200);
/** throughput rounds, each tree once per round (ROUNDS=n; default 3) */
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 3);
/** WARM=1: throughput of a second pass through the same tree (start-up and compilation done) */
const WARM = Deno.env.get("WARM") === "1";

const LINE = "x".repeat(99);

function write(path: string, text: string, mode = 0o755): void {
  Deno.writeTextFileSync(path, text, { mode });
}

interface Flavor {
  name: string;
  svscan: string;
  path: string;
  /** svscan's opt-out file: every logger a process (ours, for the process form's figures) */
  processes?: boolean;
}

class Scan {
  dir = Deno.makeTempDirSync({ prefix: "dt-bench-hosted-" });
  child!: Deno.ChildProcess;
  constructor(readonly f: Flavor) {}
  service(name: string, run: string, log?: string, down = false): string {
    const d = `${this.dir}/${name}`;
    Deno.mkdirSync(d);
    if (down) write(`${d}/down`, "", 0o644);
    if (log) {
      Deno.mkdirSync(`${d}/log`);
      write(`${d}/log/run`, log);
    }
    write(`${d}/run`, run);
    return d;
  }
  start(): void {
    if (this.f.processes) write(`${this.dir}/.svscan-no-hosted-loggers`, "", 0o644);
    this.child = new Deno.Command(this.f.svscan, {
      args: [this.dir],
      env: { PATH: this.f.path },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  }
  async stop(): Promise<void> {
    await killTree(this.child, this.dir);
  }
}

const LOGRUN = "#!/bin/sh\nexec multilog t ./main\n";

async function memory(f: Flavor, n: number): Promise<string> {
  const s = new Scan(f);
  for (let i = 0; i < n; i++) s.service(`s${i}`, "#!/bin/sh\nexec sleep 100000\n", LOGRUN);
  s.start();
  await waitFor("all up", () => {
    for (let i = 0; i < n; i++) {
      if (!statusPid(`${s.dir}/s${i}/log`) || !statusPid(`${s.dir}/s${i}`)) return false;
    }
    return true;
  }, 180_000);
  await sleep(4000);
  const pids = tree(s.child.pid);
  const out = `${f.name} N=${n}: ${pids.length} processes, PSS ${smapsKb(pids, "Pss")} kB, ` +
    `anonymous ${smapsKb(pids, "Anonymous")} kB`;
  await s.stop();
  return out;
}

function tail(path: string): string {
  try {
    const fd = Deno.openSync(path);
    const size = fd.statSync().size;
    fd.seekSync(Math.max(0, size - 64), Deno.SeekMode.Start);
    const b = new Uint8Array(64);
    const n = fd.readSync(b) ?? 0;
    fd.close();
    return new TextDecoder().decode(b.subarray(0, n));
  } catch {
    return "";
  }
}

/** One throughput run: MB/s and the tree's CPU ms per MB. */
interface Flow {
  mbps: number;
  cpuPerMb: number;
}

async function throughput(f: Flavor, data: string): Promise<Flow> {
  const s = new Scan(f);
  const go = `${s.dir}/go`;
  // WARM: a first pass, then the measured one once the bench writes to the FIFO `go`
  const first = WARM ? `cat ${data}\necho WARM\nread x < ${go}\n` : "";
  const d = s.service(
    "flood",
    `#!/bin/sh\n${first}cat ${data}\necho END\nexec sleep 100000\n`,
    "#!/bin/sh\nexec multilog t s16777215 n5 ./main\n",
    true,
  );
  if (WARM) new Deno.Command("mkfifo", { args: [go] }).outputSync();
  s.start();
  await waitFor("log up", () => statusPid(`${d}/log`) > 0 && statusPid(d) === 0, 180_000);
  await sleep(1000);
  const current = `${d}/log/main/current`;
  const up = () => new Deno.Command("svc", { args: ["-u", d], env: { PATH: f.path } }).outputSync();
  if (WARM) {
    up();
    await waitFor("WARM", () => tail(current).endsWith(" WARM\n"), 600_000, 5);
  }
  const c0 = cpuNs(tree(s.child.pid));
  const t0 = performance.now();
  if (WARM) Deno.writeTextFileSync(go, "\n");
  else up();
  await waitFor("END", () => tail(current).endsWith(" END\n"), 600_000, 5);
  const secs = (performance.now() - t0) / 1000;
  const cpu = (cpuNs(tree(s.child.pid)) - c0) / 1e6;
  await s.stop();
  console.log(
    `${f.name}: ${MB} MB in ${secs.toFixed(2)} s = ${(MB / secs).toFixed(1)} MB/s, ` +
      `tree CPU ${(cpu / MB).toFixed(1)} ms/MB`,
  );
  return { mbps: MB / secs, cpuPerMb: cpu / MB };
}

async function latency(f: Flavor, flood: boolean): Promise<string> {
  const s = new Scan(f);
  if (flood) {
    s.service(
      "flood",
      `#!/bin/sh\nexec yes ${LINE}\n`,
      "#!/bin/sh\nexec multilog t s16777215 n5 ./main\n",
    );
  }
  const t = s.service("target", "#!/bin/sh\nexec sleep 100000\n", LOGRUN);
  s.start();
  await waitFor("target up", () => statusPid(t) > 0, 180_000);
  await sleep(2000);
  const ms = await restartLatencies(t, 15, 30_000);
  await s.stop();
  ms.sort((a, b) => a - b);
  return `${f.name} ${flood ? "with" : "without"} a flood: svc -t latency median ` +
    `${ms[ms.length >> 1].toFixed(1)} ms (min ${ms[0].toFixed(1)}, max ${ms.at(-1)!.toFixed(1)})`;
}

async function main() {
  const bin = build();
  const ours: Flavor = { name: "ours", svscan: `${bin}/svscan`, path: `${bin}:/usr/bin:/bin` };
  const deb: Flavor = { name: "daemontools", svscan: "/usr/bin/svscan", path: "/usr/bin:/bin" };
  const flavors = [ours];
  try {
    Deno.statSync("/usr/bin/svscan");
    flavors.push(deb);
  } catch {
    console.log("Debian's daemontools not installed: ours only");
  }
  const only = Deno.env.get("ONLY") ?? "memory,throughput,latency";
  if (only.includes("memory")) {
    for (const n of [1, 10, 100, 200]) {
      for (const f of flavors) console.log(await memory(f, n));
    }
  }
  if (only.includes("throughput")) {
    const data = Deno.makeTempFileSync({ prefix: "dt-bench-lines-" });
    const chunk = new TextEncoder().encode(`${LINE}\n`.repeat(10_000)); // 1 MB
    const fd = Deno.openSync(data, { write: true });
    for (let i = 0; i < MB; i++) fd.writeSync(chunk);
    fd.close();
    const process = { ...ours, name: "ours, loggers as processes", processes: true };
    // rounds interleaved: this machine's speed drifts by tens of percent over minutes
    const also = Deno.env.get("ALSO");
    const other = also
      ? [{ name: `hosted, ${also}`, svscan: `${also}/svscan`, path: `${also}:/usr/bin:/bin` }]
      : [];
    const runs = [ours, ...other, process, ...flavors.slice(1)];
    const got = new Map<Flavor, Flow[]>(runs.map((f) => [f, []]));
    for (let i = 0; i < ROUNDS; i++) {
      for (const f of runs) got.get(f)!.push(await throughput(f, data));
    }
    if (ROUNDS > 1) {
      for (const [f, xs] of got) {
        console.log(
          `${f.name}, median of ${ROUNDS}: ${median(xs.map((x) => x.mbps)).toFixed(1)} MB/s, ` +
            `tree CPU ${median(xs.map((x) => x.cpuPerMb)).toFixed(2)} ms/MB`,
        );
      }
    }
    Deno.removeSync(data);
  }
  if (only.includes("latency")) {
    for (const f of flavors) {
      console.log(await latency(f, false));
      console.log(await latency(f, true));
    }
  }
  Deno.removeSync(bin, { recursive: true });
}

await main();

/**
 * Benchmark for svstat and svc, side by side with Debian's daemontools in the
 * same run: wall time of `svstat` on 1 and on 100 supervised directories, of
 * `svc -t` on one, and of a Deno hello-world (`deno run -A --no-config
 * hello.ts`, cached) as the start-up floor. Services are run by Debian's
 * supervise for both sides, so only the client programs differ. Ours only:
 * `svstat -j` and `svstat -m` on 100 directories (JSON, Prometheus text; docs/status.md),
 * and the idle CPU of our svscan with 100 services, with and without its metrics file
 * (`.svscan-metrics`), both trees side by side over the same window (METRICS_IDLE_S, default
 * 60 s, after 10 s of settling).
 *
 * Method: hyperfine -N, ROUNDS rounds of RUNS runs per command (rounds
 * interleave the commands against drift); every figure is the median of all
 * samples. Usage: deno run -A bench/status.ts
 * @module
 */
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const ROUNDS = 15;
const RUNS = 4;
const N = 100;
const METRICS_IDLE_S = Number(Deno.env.get("METRICS_IDLE_S") ?? 60);

/** CPU time (ns) of every thread of a process. */
function cpuNs(pid: number): number {
  let sum = 0;
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    sum += Number(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/schedstat`).split(" ")[0]);
  }
  return sum;
}

/** Idle CPU (ms per 60 s) of our svscan on 100 services, metrics off and on, side by side. */
async function svscanIdle(bin: string, work: string): Promise<[number, number]> {
  const scans: Deno.ChildProcess[] = [];
  const roots: string[] = [];
  try {
    for (const flavor of ["off", "on"]) {
      const root = `${work}/scan-${flavor}`;
      roots.push(root);
      for (let i = 0; i < N; i++) {
        Deno.mkdirSync(`${root}/s${i}`, { recursive: true });
        Deno.writeTextFileSync(`${root}/s${i}/run`, "#!/bin/sh\nexec sleep 100000\n", {
          mode: 0o755,
        });
      }
      if (flavor === "on") Deno.symlinkSync(`${work}/daemontools.prom`, `${root}/.svscan-metrics`);
      scans.push(
        new Deno.Command(`${bin}/svscan`, {
          args: [root],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }
    await waitUntil(
      "both trees up",
      () =>
        roots.every((r) =>
          sh(`${bin}/svstat`, dirs.map((d) => `${r}/${d}`)).split("\n")
            .filter((l) => / up \(pid /.test(l)).length === N
        ),
    );
    await waitUntil(
      "metrics file written",
      () => {
        try {
          return Deno.readTextFileSync(`${work}/daemontools.prom`).split("daemontools_up{")
            .length === N + 1;
        } catch {
          return false;
        }
      },
    );
    await new Promise((r) => setTimeout(r, 10_000));
    const before = scans.map((c) => cpuNs(c.pid));
    await new Promise((r) => setTimeout(r, METRICS_IDLE_S * 1000));
    const ms = scans.map((c, i) => (cpuNs(c.pid) - before[i]) / 1e6 * (60 / METRICS_IDLE_S));
    return [ms[0], ms[1]];
  } finally {
    for (const c of scans) {
      c.kill("SIGTERM");
      await c.status;
    }
  }
}

function sh(cmd: string, args: string[], cwd?: string, env?: Record<string, string>): string {
  const o = new Deno.Command(cmd, { args, cwd, env, stdout: "piped", stderr: "piped" })
    .outputSync();
  if (!o.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  }
  return new TextDecoder().decode(o.stdout);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function waitUntil(what: string, probe: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const p of ["/usr/bin/svstat", "/usr/bin/svc", "/usr/bin/supervise", "/usr/bin/hyperfine"]) {
  try {
    Deno.statSync(p);
  } catch {
    console.log(`bench/status.ts: ${p} is missing (Debian's daemontools and hyperfine needed)`);
    Deno.exit(1);
  }
}

const work = Deno.makeTempDirSync({ prefix: "dt-bench-status-" });
const bin = `${work}/bin`;
const sups: Deno.ChildProcess[] = [];
const dirs = Array.from({ length: N }, (_, i) => `s${i}`);
try {
  const deno = Deno.execPath();
  sh("sh", [`${ROOT}/scripts/build.sh`, bin, ROOT], undefined, { DENO: deno });
  Deno.writeTextFileSync(`${work}/hello.ts`, 'console.log("hello");\n');
  sh(deno, ["cache", "--no-config", `${work}/hello.ts`]);

  const svcDir = "t";
  for (const d of [...dirs, svcDir]) {
    Deno.mkdirSync(`${work}/${d}`);
    Deno.writeTextFileSync(`${work}/${d}/run`, "#!/bin/sh\nexec sleep 100000\n", { mode: 0o755 });
    sups.push(
      new Deno.Command("/usr/bin/supervise", {
        args: [d],
        cwd: work,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
  }
  await waitUntil("all services up", () => {
    const out = sh("/usr/bin/svstat", [...dirs, svcDir], work);
    return out.split("\n").filter((l) => / up \(pid /.test(l)).length === N + 1;
  });

  const rows: [string, string, string | undefined][] = [
    ["deno hello-world start-up", `${deno} run -A --no-config ${work}/hello.ts`, undefined],
    ["svstat, 1 dir", `${bin}/svstat s0`, "/usr/bin/svstat s0"],
    [`svstat, ${N} dirs`, `${bin}/svstat ${dirs.join(" ")}`, `/usr/bin/svstat ${dirs.join(" ")}`],
    ["svc -t, 1 dir", `${bin}/svc -t ${svcDir}`, `/usr/bin/svc -t ${svcDir}`],
    [`svstat -j, ${N} dirs`, `${bin}/svstat -j ${dirs.join(" ")}`, undefined],
    [`svstat -m, ${N} dirs`, `${bin}/svstat -m ${dirs.join(" ")}`, undefined],
  ];
  const cmds = rows.flatMap(([, ours, theirs]) => theirs ? [ours, theirs] : [ours]);
  const samples = new Map<string, number[]>(cmds.map((c) => [c, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const json = `${work}/round${r}.json`;
    sh("/usr/bin/hyperfine", [
      "-N",
      "--warmup",
      "1",
      "--runs",
      String(RUNS),
      "--style",
      "none",
      "--export-json",
      json,
      ...cmds,
    ], work);
    const res = JSON.parse(Deno.readTextFileSync(json)).results as {
      command: string;
      times: number[];
    }[];
    for (const x of res) samples.get(x.command)!.push(...x.times.map((t) => t * 1000));
  }
  const med = (c: string) => median(samples.get(c)!);
  const f = (x: number) => x.toFixed(1).padStart(8);

  console.log(`medians of ${ROUNDS}x${RUNS} runs (hyperfine -N), wall ms; ratio = ours / Debian`);
  console.log(
    `| ${"measure".padEnd(26)} | ${"ours".padStart(8)} | ${"Debian".padStart(8)} | ratio |`,
  );
  console.log(`|${"-".repeat(28)}|${"-".repeat(9)}:|${"-".repeat(9)}:|------:|`);
  for (const [name, ours, theirs] of rows) {
    const o = med(ours);
    const d = theirs ? med(theirs) : undefined;
    const ratio = d ? (o / d).toFixed(1).padStart(5) : "    -";
    console.log(`| ${name.padEnd(26)} | ${f(o)} | ${d ? f(d) : "       -"} | ${ratio} |`);
  }
  const hello = med(rows[0][1]);
  const s1 = med(rows[1][1]);
  const s100 = med(rows[2][1]);
  const svc = med(rows[3][1]);
  const target = (name: string, x: number) =>
    console.log(
      `| ${name.padEnd(40)} | ${x.toFixed(2).padStart(5)} | ${x <= 1.3 ? "ok" : "MISSED"} |`,
    );
  console.log(`\ntargets (ours, each <= 1.3):`);
  console.log(`| ${"ratio".padEnd(40)} | value | <=1.3 |`);
  console.log(`|${"-".repeat(42)}|------:|-------|`);
  target(`svstat ${N} dirs / svstat 1 dir`, s100 / s1);
  target(`svstat -j ${N} dirs / svstat 1 dir`, med(rows[4][1]) / s1);
  target(`svstat -m ${N} dirs / svstat 1 dir`, med(rows[5][1]) / s1);
  target("svstat 1 dir / deno hello-world", s1 / hello);
  target("svc -t / deno hello-world", svc / hello);
  console.log(
    `\nper-dir cost, ours: ${((s100 - s1) / (N - 1) * 1000).toFixed(0)} us; ` +
      `Debian: ${((med(rows[2][2]!) - med(rows[1][2]!)) / (N - 1) * 1000).toFixed(0)} us`,
  );
  const [off, on] = await svscanIdle(bin, work);
  console.log(
    `\nidle CPU of our svscan, ${N} services (ms per 60 s, ${METRICS_IDLE_S} s window): ` +
      `metrics off ${off.toFixed(1)}, metrics on ${on.toFixed(1)}`,
  );
} finally {
  try {
    sh("/usr/bin/svc", ["-dx", ...dirs, "t"], work);
  } catch { /* best effort */ }
  for (const s of sups) {
    const t = setTimeout(() => s.kill("SIGKILL"), 5000);
    await s.status;
    clearTimeout(t);
  }
  Deno.removeSync(work, { recursive: true });
}

/**
 * Chain loaders: wall time from invoking
 * `envdir ./env setuidgid nobody softlimit -o 64 /bin/true` to its exit.
 *
 * Variants, run interleaved round by round (this machine is shared and
 * noisy: medians of interleaved runs compare, single runs do not):
 * - ours: the three links in one Deno process (in-process chaining);
 * - ours, one start-up per link: the same programs reached through copies
 *   of the launcher, so no link is "this executable" and each one is exec'd;
 * - Debian's daemontools 0.76 (C);
 * - one Deno hello-world start-up (`deno run -A hello.ts`), the unit of the target
 *   "whole chain <= 1.3 x one Deno start-up".
 *
 * Usage: deno run -A bench/chain.ts [ROUNDS]   (default 25 rounds)
 * @module
 */
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const rounds = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 25);
const deno = Deno.execPath();
const tmp = Deno.makeTempDirSync({ prefix: "dt-bench-chain-" });
Deno.chmodSync(tmp, 0o755); // setuidgid nobody must reach the next link

function sh(cmd: string, args: string[], env: Record<string, string> = {}) {
  const o = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).outputSync();
  if (!o.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  }
}

try {
  const bin = `${tmp}/bin`;
  sh("sh", [`${ROOT}/scripts/build.sh`, bin, ROOT], { DENO: deno, DENORT_BIN: "" });
  // copies of the launcher: real files, so the chain exec's every link
  const copies = `${tmp}/copies`;
  Deno.mkdirSync(copies);
  for (const p of ["envdir", "setuidgid", "softlimit"]) {
    Deno.copyFileSync(`${bin}/daemontools`, `${copies}/${p}`);
    Deno.chmodSync(`${copies}/${p}`, 0o755);
  }
  Deno.mkdirSync(`${tmp}/env`);
  Deno.writeTextFileSync(`${tmp}/env/FOO`, "bar\n");
  Deno.writeTextFileSync(`${tmp}/hello.ts`, 'console.log("hello");\n');

  const chain = (dir: string) => [
    `${dir}/envdir`,
    "./env",
    `${dir}/setuidgid`,
    "nobody",
    `${dir}/softlimit`,
    "-o",
    "64",
    "/bin/true",
  ];
  const variants: { name: string; argv: string[] }[] = [
    { name: "deno hello-world start-up", argv: [deno, "run", "-A", `${tmp}/hello.ts`] },
    { name: "ours: 3-link chain, in-process", argv: chain(bin) },
    { name: "ours: 3-link chain, exec per link", argv: chain(copies) },
  ];
  const haveDebian = (() => {
    try {
      return !Deno.realPathSync("/usr/bin/envdir").startsWith(ROOT);
    } catch {
      return false;
    }
  })();
  if (haveDebian) {
    variants.push({ name: "daemontools 0.76: 3-link chain", argv: chain("/usr/bin") });
  }

  const runOnce = (argv: string[]) => {
    const t0 = performance.now();
    const o = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: tmp,
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    const ms = performance.now() - t0;
    if (!o.success) {
      throw new Error(`${argv.join(" ")}: exit ${o.code}: ${new TextDecoder().decode(o.stderr)}`);
    }
    return ms;
  };
  for (const v of variants) for (let i = 0; i < 3; i++) runOnce(v.argv); // warm caches
  const times = variants.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    variants.forEach((v, i) => times[i].push(runOnce(v.argv)));
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const med = times.map(median);
  const min = times.map((xs) => Math.min(...xs));
  const hello = med[0];
  const dtAt = variants.findIndex((v) => v.name.startsWith("daemontools"));
  const dt = dtAt >= 0 ? med[dtAt] : NaN;
  console.log(`chain loaders: median wall time of ${rounds} interleaved rounds (ms)\n`);
  console.log("| variant | median ms | min ms | / deno start-up | / daemontools |");
  console.log("|---|---:|---:|---:|---:|");
  variants.forEach((v, i) => {
    const r1 = (med[i] / hello).toFixed(2);
    const r2 = dtAt >= 0 ? (med[i] / dt).toFixed(1) : "n/a";
    console.log(`| ${v.name} | ${med[i].toFixed(1)} | ${min[i].toFixed(1)} | ${r1} | ${r2} |`);
  });
  console.log(
    `\nratios are of medians; by minimum: ${(min[1] / min[0]).toFixed(2)} x one start-up`,
  );
  console.log(
    `target: in-process chain <= 1.3 x one Deno start-up: ${(med[1] / hello).toFixed(2)} (${
      med[1] / hello <= 1.3 ? "met" : "NOT met"
    })`,
  );
} finally {
  Deno.removeSync(tmp, { recursive: true });
}

/**
 * `svc -t` latency of another service while a logger rotates into a log directory whose fsync
 * is slow (issue 9, item 5), ours (hosted logger) side by side with Debian's daemontools
 * (multilog process) in the same run. The log directory is on an ext2 image on a loop device
 * whose writes cgroup v1's blkio throttle limits to IOPS writes per second (tests/slow_disk.ts):
 * each fsync then takes about a second. The logger `t s16384 n1000 ./main` takes 16 KB of
 * 100-byte lines every 0.2 s (a rotation each time; with slow fsyncs it is in an fsync nearly
 * all the time, the writer waiting on the full pipe). Latency: `t` written to the target's control
 * until its status shows the new pid, median of 15 (1.1 s apart), with and without the limit.
 * Needs root, losetup, mkfs.ext2 and /sys/fs/cgroup/blkio.
 * Usage: deno run -A bench/svscan_hosted_fsync.ts [IOPS]   (default 2; about 3 minutes)
 * @module
 */
import { build, killTree, restartLatencies, sleep, statusPid, waitFor } from "./_common.ts";
import { SlowDisk } from "../tests/slow_disk.ts";

const IOPS = Number(Deno.args[0] ?? 2);
const LINE = "x".repeat(99);

interface Flavor {
  name: string;
  svscan: string;
  path: string;
}

function write(path: string, text: string): void {
  Deno.writeTextFileSync(path, text, { mode: 0o755 });
}

/** Time of one fsync of a small new file on the disk (ms). */
function probe(mnt: string): number {
  const f = Deno.openSync(`${mnt}/probe`, { write: true, create: true, truncate: true });
  f.writeSync(new Uint8Array(4096));
  const t0 = performance.now();
  f.syncSync();
  const ms = performance.now() - t0;
  f.close();
  Deno.removeSync(`${mnt}/probe`);
  return ms;
}

async function latency(f: Flavor, slow: boolean): Promise<string> {
  const dir = Deno.makeTempDirSync({ prefix: "dt-bench-fsync-" });
  const disk = SlowDisk.make(`${dir}/.img`, `${dir}/.slow`, 64);
  if (typeof disk === "string") throw new Error(`no slow disk: ${disk}`);
  let child: Deno.ChildProcess | undefined;
  try {
    Deno.mkdirSync(`${disk.mnt}/main`);
    Deno.writeTextFileSync(`${dir}/.lines`, `${LINE}\n`.repeat(164));
    for (
      const [name, run, log] of [
        [
          "writer",
          `#!/bin/sh\nwhile :; do cat ${dir}/.lines; sleep 0.2; done\n`,
          "#!/bin/sh\nexec multilog t s16384 n1000 ./main\n",
        ],
        ["target", "#!/bin/sh\nexec sleep 100000\n", "#!/bin/sh\nexec multilog t ./main\n"],
      ]
    ) {
      Deno.mkdirSync(`${dir}/${name}/log`, { recursive: true });
      write(`${dir}/${name}/run`, run);
      write(`${dir}/${name}/log/run`, log);
    }
    Deno.symlinkSync(`${disk.mnt}/main`, `${dir}/writer/log/main`);
    let fsyncMs = probe(disk.mnt);
    if (slow) {
      disk.limit("iops", IOPS);
      fsyncMs = probe(disk.mnt);
    }
    child = new Deno.Command(f.svscan, {
      args: [dir],
      env: { PATH: f.path },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const t = `${dir}/target`;
    await waitFor("target up", () => statusPid(t) > 0, 60_000);
    await sleep(2000);
    const ms = await restartLatencies(t, 15, 60_000);
    const rotated = [...Deno.readDirSync(`${disk.mnt}/main`)].filter((e) => e.name[0] === "@")
      .length;
    ms.sort((a, b) => a - b);
    return `${f.name} ${slow ? `slow fsync (${IOPS} IOPS)` : "normal fsync"}: ` +
      `probe fsync ${fsyncMs.toFixed(0)} ms, ${rotated} rotations; svc -t latency median ` +
      `${ms[ms.length >> 1].toFixed(1)} ms (min ${ms[0].toFixed(1)}, max ${ms.at(-1)!.toFixed(1)})`;
  } finally {
    disk.lift();
    if (child) await killTree(child, dir).catch(() => {});
    disk.close();
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* removed */ }
  }
}

async function main() {
  const bin = build();
  const flavors: Flavor[] = [{
    name: "ours",
    svscan: `${bin}/svscan`,
    path: `${bin}:/usr/bin:/bin`,
  }];
  try {
    Deno.statSync("/usr/bin/svscan");
    flavors.push({ name: "daemontools", svscan: "/usr/bin/svscan", path: "/usr/bin:/bin" });
  } catch {
    console.log("Debian's daemontools not installed: ours only");
  }
  for (const f of flavors) {
    console.log(await latency(f, false));
    console.log(await latency(f, true));
  }
  Deno.removeSync(bin, { recursive: true });
}

await main();

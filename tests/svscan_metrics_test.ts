/**
 * svscan's metrics file (lib/svstat/metrics.ts), switched on by `.svscan-metrics` in the
 * scanned directory, and the exit history carried across an svscan restart. Real svscan,
 * real services; states waited for by bounded polling.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { bytesTree, service, waitUp, withScan } from "./svscan_util.ts";
import { prog, readOr, run, waitFor } from "./util.ts";

const SLEEP = "#!/bin/sh\nexec sleep 100000\n";

/** The sample lines of a metrics text, as `name{labels} value` strings. */
function samples(text: string): string[] {
  return text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
}

/** One sample's value from the file, or undefined. */
function value(text: string, name: string, dir: string): string | undefined {
  const prefix = `daemontools_${name}{dir="${dir}"} `;
  return samples(text).find((l) => l.startsWith(prefix))?.slice(prefix.length);
}

Deno.test("svscan metrics: a symlink names the file; a crash shows at once; every write whole", async () => {
  await withScan(async (t) => {
    await service(t.dir, "web", SLEEP, "#!/bin/sh\nexec cat >/dev/null\n");
    await service(t.dir, "db", SLEEP);
    const out = `${t.dir}/.out`;
    await Deno.mkdir(out);
    await Deno.symlink(`${out}/daemontools.prom`, `${t.dir}/.svscan-metrics`);
    const s = t.start();
    const prom = `${out}/daemontools.prom`;
    const first = await waitFor("three services up in the file", () => {
      const m = readOr(prom);
      return ["web", "web/log", "db"].every((d) => value(m, "up", d) === "1") ? m : undefined;
    });
    assertEquals(value(first, "starts_total", "web"), "1");
    // same facts as svstat -m on the same directories (labels aside, and in scan order)
    const r = await run(prog("svstat"), ["-m", "web", "web/log", "db"], { cwd: t.dir });
    const strip = (text: string) => samples(text).filter((l) => !l.includes("_seconds")).sort();
    assertEquals(strip(first), strip(r.stdout));
    const pid = await waitUp(`${t.dir}/db`);
    Deno.kill(pid, "SIGKILL");
    const after = await waitFor("the crash in the file", () => {
      const m = readOr(prom);
      return value(m, "last_exit_signal", "db") === "9" && value(m, "up", "db") === "1"
        ? m
        : undefined;
    });
    assertEquals(value(after, "starts_total", "db"), "2");
    assertEquals(value(after, "last_exit_code", "db"), undefined);
    // never a temporary file left, never a half file
    assert(!Deno.readDirSync(out).some((e) => e.name.endsWith(".new")));
    assertMatch(after, /^# HELP daemontools_status_error [^\n]*\n[\s\S]*\n$/);
    // a service added at run time appears
    await service(t.dir, "new", SLEEP);
    await waitFor("new in the file", () => value(readOr(prom), "up", "new") === "1");
    assertEquals(s.err, "");
  });
});

Deno.test("svscan metrics: a regular .svscan-metrics is rewritten in place, idle svscan stays idle", async () => {
  await withScan(async (t) => {
    await service(t.dir, "a", SLEEP);
    const file = `${t.dir}/.svscan-metrics`;
    await Deno.writeTextFile(file, "");
    const s = t.start();
    await waitFor("a up in the file", () => value(readOr(file), "up", "a") === "1");
    // its own rename is a directory event: it must not cause another write (a loop)
    await waitFor("svscan settled", async () => {
      const a = Deno.statSync(file).ino;
      await new Promise((r) => setTimeout(r, 300));
      return Deno.statSync(file).ino === a;
    });
    const ino = Deno.statSync(file).ino;
    const ticks = () => {
      const f = Deno.readTextFileSync(`/proc/${s.pid}/stat`).split(") ")[1].split(" ");
      return Number(f[11]) + Number(f[12]);
    };
    const before = ticks();
    await new Promise((r) => setTimeout(r, 1000));
    assertEquals(Deno.statSync(file).ino, ino);
    assert(ticks() - before <= 5, `svscan used ${ticks() - before} ticks while idle`);
    assertEquals(s.err, "");
  });
});

Deno.test("svscan metrics: an unwritable location warns once, supervision goes on", async () => {
  await withScan(async (t) => {
    await service(t.dir, "a", SLEEP);
    await Deno.symlink("/nonexistent-dir/m.prom", `${t.dir}/.svscan-metrics`);
    const s = t.start();
    const warning =
      "svscan: warning: unable to write metrics to /nonexistent-dir/m.prom: file does not exist\n";
    await s.waitErr(warning);
    const p1 = await waitUp(`${t.dir}/a`);
    Deno.kill(p1, "SIGKILL");
    const p2 = await waitUp(`${t.dir}/a`, p1);
    assert(p2 !== p1);
    await run(prog("svc"), ["-p", `${t.dir}/a`]);
    await waitFor("paused", async () => {
      const r = await run(prog("svstat"), ["-j", `${t.dir}/a`]);
      return JSON.parse(r.stdout).paused === true;
    });
    assertEquals(s.err, warning);
  });
});

Deno.test("svscan metrics: a name that is not UTF-8 gets an escaped label", async () => {
  await withScan(async (t) => {
    await bytesTree(t.dir);
    await Deno.symlink(`${t.dir}/.m.prom`, `${t.dir}/.svscan-metrics`);
    t.start();
    const m = await waitFor("both in the file", () => {
      const m = readOr(`${t.dir}/.m.prom`);
      return value(m, "up", "s\\\\xff") === "1" && value(m, "up", "\\\\xefbin") === "1"
        ? m
        : undefined;
    });
    new TextDecoder("utf-8", { fatal: true }).decode(Deno.readFileSync(`${t.dir}/.m.prom`));
    assert(m.length > 0);
  });
});

Deno.test("history: carried across an svscan restart (adoption); starts go on counting", async () => {
  await withScan(async (t) => {
    await service(t.dir, "a", SLEEP);
    const s1 = t.start();
    const p1 = await waitUp(`${t.dir}/a`);
    Deno.kill(p1, "SIGKILL");
    const p2 = await waitUp(`${t.dir}/a`, p1);
    const j = async () => JSON.parse((await run(prog("svstat"), ["-j", `${t.dir}/a`])).stdout);
    const before = await waitFor("two starts", async () => {
      const o = await j();
      return o.starts === 2 ? o : undefined;
    });
    assertEquals(before.last_exit.signal, 9);
    const hist = Deno.readTextFileSync(`${t.dir}/a/supervise/history`);
    await s1.stop("SIGKILL"); // the service keeps running
    t.start();
    await waitFor("adopted", async () => {
      const o = await j();
      return o.supervise && o.pid === p2 ? o : undefined;
    });
    // the same history: nothing started, nothing exited meanwhile
    assertEquals(Deno.readTextFileSync(`${t.dir}/a/supervise/history`), hist);
    Deno.kill(p2, "SIGTERM");
    const after = await waitFor("restarted by the new svscan", async () => {
      const o = await j();
      return o.starts === 3 && o.state === "up" ? o : undefined;
    });
    // the adopted process was not our child: its exit status is unknown
    assertEquals([after.last_exit.code, after.last_exit.signal], [null, null]);
    assertEquals(
      JSON.parse(Deno.readTextFileSync(`${t.dir}/a/supervise/history`)).since,
      JSON.parse(hist).since,
    );
  });
});

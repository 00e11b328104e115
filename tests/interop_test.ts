/**
 * Interop: our svc/svstat/svok driving Debian's supervise, and Debian's
 * svc/svok driving our supervise. In every state reached, our svstat and
 * Debian's svstat must print the same line (seconds masked: the clock may
 * tick between the two runs), and the line must be the expected one.
 */
import { assert, assertEquals } from "./assert.ts";
import { alive, debian, haveDebian, prog, root, run, scratch, script, waitFor } from "./util.ts";

const oursExists = (() => {
  try {
    Deno.statSync(`${root}/cmd/supervise.ts`);
    return true;
  } catch {
    return false;
  }
})();

interface Tools {
  supervise: string;
  svc: string;
  svok: string;
}

/** Both svstats on `dir` (run in `cwd`); they must agree; returns the line without "dir: ". */
async function status(cwd: string, dir: string): Promise<string> {
  const ours = await run(prog("svstat"), [dir], { cwd });
  const d = await run(debian("svstat")!, [dir], { cwd });
  const mask = (s: string) => s.replace(/ \d+ seconds/, " S seconds");
  assertEquals([ours.code, ours.stderr], [0, ""]);
  assertEquals(mask(ours.stdout), mask(d.stdout), `svstat ${dir}: ours vs Debian`);
  return mask(ours.stdout).slice(dir.length + 2, -1);
}

/** Wait until svstat (both) reports a line matching `want`; returns the pid if up. */
async function reach(cwd: string, dir: string, want: RegExp): Promise<number> {
  const line = await waitFor(`${dir}: ${want}`, async () => {
    const s = await status(cwd, dir);
    return want.test(s) ? s : "";
  });
  const m = /\(pid (\d+)\)/.exec(line);
  return m ? Number(m[1]) : 0;
}

async function svc(t: Tools, cwd: string, ...args: string[]): Promise<void> {
  const r = await run(t.svc, args, { cwd });
  assertEquals([r.code, r.stdout, r.stderr], [0, "", ""], `svc ${args.join(" ")}`);
}

async function svok(t: Tools, cwd: string, dir: string): Promise<number> {
  const r = await run(t.svok, [dir], { cwd });
  assertEquals(r.stderr, "");
  return r.code;
}

/** Run the whole scenario with one supervise and one svc/svok. */
async function scenario(t: Tools): Promise<void> {
  const base = await scratch();
  const sups: Deno.ChildProcess[] = [];
  const pids = new Set<number>();
  try {
    const up = "#!/bin/sh\nexec sleep 100000\n";
    // ignores SIGTERM, so `svc -d` leaves it up with want down
    const stubborn = "#!/bin/sh\ntrap '' TERM\nexec sleep 100000\n";
    for (const [name, body, down] of [["a", up, false], ["b", stubborn, true]] as const) {
      await Deno.mkdir(`${base}/${name}`);
      await script(`${base}/${name}/run`, body);
      if (down) await Deno.writeTextFile(`${base}/${name}/down`, "");
    }
    assertEquals(await svok(t, base, "a"), 100); // never supervised
    assertEquals(await status(base, "a"), "unable to open supervise/ok: file does not exist");
    for (const name of ["a", "b"]) {
      sups.push(
        new Deno.Command(t.supervise, {
          args: [name],
          cwd: base,
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }
    await waitFor(
      "svok a and b",
      async () => (await svok(t, base, "a")) === 0 && (await svok(t, base, "b")) === 0,
    );

    // a: normally up
    const p1 = await reach(base, "a", /^up \(pid \d+\) S seconds$/);
    pids.add(p1);
    await svc(t, base, "-p", "a");
    await reach(base, "a", /^up \(pid \d+\) S seconds, paused$/);
    await svc(t, base, "-c", "a");
    assertEquals(await reach(base, "a", /^up \(pid \d+\) S seconds$/), p1);
    await svc(t, base, "-d", "a");
    await reach(base, "a", /^down S seconds, normally up$/);
    assert(!alive(p1), "svc -d stopped the service");
    await svc(t, base, "-o", "a");
    const p2 = await reach(base, "a", /^up \(pid \d+\) S seconds$/);
    pids.add(p2);
    await svc(t, base, "-u", "a");
    await svc(t, base, "-t", "a"); // restarted: a new pid
    const p3 = await reach(base, "a", /^up \(pid \d+\) S seconds$/);
    pids.add(p3);
    await waitFor("a new pid after svc -t", async () => {
      const s = await status(base, "a");
      const m = /\(pid (\d+)\)/.exec(s);
      if (m) pids.add(Number(m[1]));
      return m !== null && Number(m[1]) !== p2;
    });

    // b: normally down
    await reach(base, "b", /^down S seconds$/);
    await svc(t, base, "-u", "b");
    const pb = await reach(base, "b", /^up \(pid \d+\) S seconds, normally down$/);
    pids.add(pb);
    await svc(t, base, "-p", "b");
    await reach(base, "b", /^up \(pid \d+\) S seconds, normally down, paused$/);
    await svc(t, base, "-d", "b"); // TERM is ignored; -d also continues it
    await reach(base, "b", /^up \(pid \d+\) S seconds, normally down, want down$/);
    await svc(t, base, "-k", "b");
    await reach(base, "b", /^down S seconds$/);

    // exit: both supervise processes go away
    await svc(t, base, "-dx", "a", "b");
    for (const s of sups) await s.status;
    assertEquals(await status(base, "a"), "supervise not running");
    assertEquals(await status(base, "b"), "supervise not running");
    assertEquals(await svok(t, base, "a"), 100);
  } finally {
    for (const pid of pids) if (alive(pid)) Deno.kill(pid, "SIGKILL");
    for (const s of sups) {
      try {
        s.kill("SIGKILL");
      } catch { /* already gone */ }
      await s.status;
    }
    await Deno.remove(base, { recursive: true });
  }
}

Deno.test({
  name: "interop: our svc/svstat/svok drive Debian's supervise",
  ignore: !haveDebian,
  fn: () => scenario({ supervise: debian("supervise")!, svc: prog("svc"), svok: prog("svok") }),
});

Deno.test({
  name: "interop: Debian's svc/svstat/svok drive our supervise",
  ignore: !haveDebian || !oursExists,
  fn: () => scenario({ supervise: prog("supervise"), svc: debian("svc")!, svok: debian("svok")! }),
});

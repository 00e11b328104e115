/**
 * Interop: our svc/svstat/svok driving Debian's supervise, and Debian's
 * svc/svok driving our supervise. In every state reached, our svstat and
 * Debian's svstat must print the same line (seconds masked: the clock may
 * tick between the two runs), and the line must be the expected one.
 */
import { assert, assertEquals } from "./assert.ts";
import { differential, same, tree } from "./fixtures.ts";
import { alive, prog, run, waitFor } from "./util.ts";

interface Tools {
  supervise: string;
  svc: string;
  svok: string;
}

/** Both svstats on `dir` (run in `cwd`); they must agree; returns the line without "dir: ". */
async function status(cwd: string, dir: string): Promise<string> {
  const ours = await same("svstat", async (svstat) => {
    const r = await run(svstat, [dir], { cwd });
    return { code: r.code, stderr: r.stderr, line: r.stdout.replace(/ \d+ seconds/, " S seconds") };
  });
  assertEquals([ours.code, ours.stderr], [0, ""]);
  return ours.line.slice(dir.length + 2, -1);
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
  await using services = await tree();
  const base = services.root;
  const sups: Deno.ChildProcess[] = [];
  try {
    await services.service("a");
    // ignores SIGTERM, so `svc -d` leaves it up with want down
    await services.service("b", {
      run: "#!/bin/sh\ntrap '' TERM\nexec sleep 100000\n",
      down: true,
    });
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
    await svc(t, base, "-p", "a");
    await reach(base, "a", /^up \(pid \d+\) S seconds, paused$/);
    await svc(t, base, "-c", "a");
    assertEquals(await reach(base, "a", /^up \(pid \d+\) S seconds$/), p1);
    await svc(t, base, "-d", "a");
    await reach(base, "a", /^down S seconds, normally up$/);
    assert(!alive(p1), "svc -d stopped the service");
    await svc(t, base, "-o", "a");
    const p2 = await reach(base, "a", /^up \(pid \d+\) S seconds$/);
    await svc(t, base, "-u", "a");
    await svc(t, base, "-t", "a"); // restarted: a new pid
    await reach(base, "a", /^up \(pid \d+\) S seconds$/);
    await waitFor("a new pid after svc -t", async () => {
      const m = /\(pid (\d+)\)/.exec(await status(base, "a"));
      return m !== null && Number(m[1]) !== p2;
    });

    // b: normally down
    await reach(base, "b", /^down S seconds$/);
    await svc(t, base, "-u", "b");
    await reach(base, "b", /^up \(pid \d+\) S seconds, normally down$/);
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
    // the tree kills the ./run processes left
    for (const s of sups) {
      try {
        s.kill("SIGKILL");
      } catch { /* already gone */ }
      await s.status;
    }
  }
}

differential(
  "interop: our svc/svstat/svok drive Debian's supervise",
  ["supervise", "svstat"],
  ({ supervise }) => scenario({ supervise, svc: prog("svc"), svok: prog("svok") }),
);

differential(
  "interop: Debian's svc/svstat/svok drive our supervise",
  ["svc", "svstat", "svok"],
  ({ svc, svok }) => scenario({ supervise: prog("supervise"), svc, svok }),
);

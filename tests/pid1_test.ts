/**
 * What contrib/Dockerfile relies on, without a container engine: svscan as process 1 of a new
 * pid namespace (`unshare --pid --fork --mount-proc`, as `docker run` makes it), scanning the
 * image's example tree (contrib/service/) plus a service that leaves an orphan behind.
 * Its standard output and error are what `docker logs` shows. Checked: the services' output
 * (straight, or through a logger) arrives there; the orphan is reparented to svscan and
 * reaped when it exits (no zombie stays); a service added while it runs starts; TERM (docker
 * stop) stops every service, then its logger (the logger still writes the service's last
 * words), and svscan exits 0 within its grace time; nothing was written to stderr.
 */
import { assertEquals, assertMatch } from "./assert.ts";
import { canUnshare, prog, root, run, scratch, script, waitFor } from "./util.ts";

function read(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** Children of `pid` (every thread's). */
function children(pid: number): number[] {
  const kids: number[] = [];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const c = read(`/proc/${pid}/task/${t.name}/children`).trim();
      if (c) kids.push(...c.split(" ").map(Number));
    }
  } catch {
    // gone
  }
  return kids;
}

/** The pid, seen from here, of the process whose pid is `nsPid` in the namespace `ns`. */
function hostPid(ns: string, nsPid: number): number | undefined {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${e.name}/ns/pid`) !== ns) continue;
      const m = read(`/proc/${e.name}/status`).match(/^NSpid:\s+(.*)$/m);
      if (m && Number(m[1].trim().split(/\s+/).at(-1)) === nsPid) return Number(e.name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** `ppid` and state letter of `pid`, or undefined once it is gone (reaped). */
function proc(pid: number): { ppid: number; state: string } | undefined {
  const s = read(`/proc/${pid}/stat`);
  if (!s) return undefined;
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { state: f[0], ppid: Number(f[1]) };
}

/** `p`, or a rejection once `ms` have passed. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name:
    "pid 1: svscan in a new pid namespace runs the image's services, reaps orphans, stops on TERM",
  ignore: !canUnshare(),
  fn: async () => {
    const dir = await scratch("dt-pid1-");
    let child: Deno.ChildProcess | undefined;
    try {
      const cp = await run("cp", ["-a", `${root}/contrib/service/.`, dir]);
      assertEquals(cp.code, 0, cp.stderr);
      // a service that double-forks: its grandchild outlives its parent, so the kernel gives
      // it to process 1; it exits once the test says so
      await Deno.mkdir(`${dir}/orphans`);
      await script(
        `${dir}/orphans/run`,
        `#!/bin/sh
sh -c 'sh -c "echo \\$\\$ > ${dir}/orphan.pid; until [ -e ${dir}/orphan.go ]; do sleep 0.05; done" &'
exec sleep 100000
`,
      );
      const bin = prog("svscan").replace(/\/svscan$/, "");
      child = new Deno.Command("unshare", {
        args: ["--pid", "--fork", "--mount-proc", "--kill-child", prog("svscan"), dir],
        env: { PATH: `${bin}:${Deno.env.get("PATH")}` },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let out = "";
      let err = "";
      const dec = new TextDecoder();
      const collect = async (r: ReadableStream<Uint8Array>, add: (s: string) => void) => {
        for await (const c of r) add(dec.decode(c, { stream: true }));
      };
      const reading = Promise.all([
        collect(child.stdout, (s) => (out += s)),
        collect(child.stderr, (s) => (err += s)),
      ]);
      const unshare = child.pid;
      const svscan = await waitFor("svscan in the namespace", () => children(unshare)[0]);
      const ns = Deno.readLinkSync(`/proc/${svscan}/ns/pid`);
      assertEquals(read(`/proc/${svscan}/status`).match(/^NSpid:.*\s(\d+)$/m)?.[1], "1");

      // the services' output reaches svscan's stdout: hello through its logger (stamped)
      await waitFor(
        "output of the example services",
        () =>
          /^@[0-9a-f]{24} hello: started as pid \d+$/m.test(out) &&
          /^ticker: started as pid \d+$/m.test(out),
      );

      // the orphan: reparented to svscan, and once it exits, reaped (not left a zombie)
      const nsPid = Number(await waitFor("orphan pid", () => read(`${dir}/orphan.pid`).trim()));
      const orphan = await waitFor("orphan seen", () => hostPid(ns, nsPid));
      await waitFor("orphan reparented to svscan", () => proc(orphan)?.ppid === svscan);
      await Deno.writeTextFile(`${dir}/orphan.go`, "");
      await waitFor("orphan reaped", () => proc(orphan) === undefined);

      // a service added while it runs: made under a dot name, renamed into place
      await Deno.mkdir(`${dir}/.late`);
      await script(`${dir}/.late/run`, "#!/bin/sh\necho late: up\nexec sleep 100000\n");
      await Deno.rename(`${dir}/.late`, `${dir}/late`);
      await waitFor("late service started", () => out.includes("late: up\n"));

      // docker stop: TERM to process 1
      Deno.kill(svscan, "SIGTERM");
      // svscan's own grace for a service that ignores TERM is 10 s, then 1 s
      const st = await within(child.status, 15_000, "svscan to exit after TERM");
      child = undefined;
      await reading;
      assertEquals(st.code, 0, `exit status; stderr: ${err}`);
      // hello's last words went through its logger: the logger outlived the service
      assertMatch(out, /^@[0-9a-f]{24} hello: stopping$/m);
      assertMatch(out, /^ticker: stopping$/m);
      assertEquals(err, "");
      // the namespace is gone with its process 1: nothing of it runs any more
      assertEquals(proc(svscan), undefined);
    } finally {
      if (child) {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
        await child.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

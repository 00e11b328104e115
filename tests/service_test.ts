/**
 * The in-process Service (lib/service.ts: svscan's API for supervising without a supervise
 * process): adoption of a running pid, restart, `dx`, descriptors released, ./run's environment
 * and start-up failures.
 */
import { assert, assertEquals } from "./assert.ts";
import { reactor } from "../lib/reactor.ts";
import { Service, ServiceError } from "../lib/service.ts";
import { encodeStatus } from "../lib/status.ts";
import { tree } from "./fixtures.ts";
import { alive, okRunning, readStatus, waitFor } from "./util.ts";

Deno.test("Service (svscan's API): adopt a running pid, restart, dx, fds released", async () => {
  await using t = await tree("dt-sup-");
  const dir = await t.service("svc");
  const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
  const shared = reactor(); // its epoll fd + eventfd stay
  const before = fds();
  const old = new Deno.Command("sleep", { args: ["100000"] }).spawn();
  const lines: string[] = [];
  const stamp = { sec: 0x4000000060000000n, nano: 123500 };
  await Deno.mkdir(`${dir}/supervise`);
  await Deno.writeFile(
    `${dir}/supervise/status`,
    encodeStatus({ stamp, pid: old.pid, paused: false, want: "u" }),
  );
  let exited = 0;
  const svc = new Service("svc", {
    path: dir,
    log: (l) => lines.push(l),
    onExit: () => exited++,
  });
  try {
    svc.adopt(old.pid);
    assertEquals(svc.pid, old.pid);
    const st = readStatus(dir)!;
    assertEquals([st.pid, st.stamp], [old.pid, stamp]); // its stamp kept
    old.kill("SIGKILL");
    await old.status;
    const next = await waitFor("restarted", () => {
      const p = readStatus(dir)?.pid;
      return p && p !== old.pid && alive(p) ? p : undefined;
    });
    assertEquals(svc.pid, next);
    assertEquals(Deno.readLinkSync(`/proc/${next}/cwd`), dir);
    svc.control("dx");
    await svc.done;
    assertEquals(exited, 1);
    assert(!alive(next));
    assertEquals(readStatus(dir)!.pid, 0);
    assertEquals(lines, []);
    assert(!okRunning(dir));
    assertEquals(fds(), before);
  } finally {
    svc.close();
    try {
      old.kill("SIGKILL");
    } catch { /* gone */ }
    await old.status;
    await shared.idle();
  }
});

Deno.test("Service: env option is ./run's whole environment", async () => {
  await using t = await tree("dt-sup-");
  const shared = reactor();
  const dir = await t.service("svc", { run: "#!/bin/sh\nenv > env.out\nexec sleep 100000\n" });
  const env = ["PATH=/usr/bin:/bin", "SVC_TEST_ENV=one two"];
  const svc = new Service("svc", { path: dir, env });
  try {
    svc.start();
    const out = await waitFor("env written", () => {
      try {
        const t = Deno.readTextFileSync(`${dir}/env.out`);
        return t.includes("SVC_TEST_ENV") ? t : undefined;
      } catch {
        return undefined;
      }
    });
    const lines = out.trim().split("\n").filter((l) => !/^(PWD|SHLVL|_)=/.test(l)).sort();
    assertEquals(lines, env);
    svc.control("dx");
    await svc.done;
  } finally {
    svc.close();
    await shared.idle();
  }
});

Deno.test("Service: start-up failures throw ServiceError with the exact line", async () => {
  await using t = await tree("dt-sup-");
  const base = t.root;
  await Deno.writeTextFile(`${base}/file`, "");
  await Deno.mkdir(`${base}/svc/supervise/lock`, { recursive: true });
  const cases: [string, string][] = [
    [`${base}/file`, "supervise: fatal: unable to chdir to log: not a directory\n"],
    [`${base}/nope`, "supervise: fatal: unable to chdir to log: file does not exist\n"],
    [`${base}/svc`, "supervise: fatal: unable to acquire log/supervise/lock: is a directory\n"],
  ];
  for (const [path, line] of cases) {
    const svc = new Service("log", { path });
    let caught: unknown;
    try {
      svc.start();
    } catch (e) {
      caught = e;
    }
    assert(caught instanceof ServiceError, path);
    assertEquals([caught.line, caught.code], [line, 111]);
    assert(svc.finished);
    await svc.done;
  }
});

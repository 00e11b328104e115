import { assertEquals } from "./assert.ts";
import { bin, run } from "./util.ts";

const USAGE_HEAD = "daemontools: usage: daemontools program [arg ...]\n";

Deno.test("unknown program name: usage listing every program, exit 100", async () => {
  const dir = bin();
  await Deno.symlink("daemontools", `${dir}/nosuchprog`).catch(() => {});
  const r = await run(`${dir}/nosuchprog`, ["x"]);
  assertEquals(r.code, 100);
  assertEquals(r.stdout, "");
  assertEquals(
    r.stderr,
    USAGE_HEAD +
      "daemontools: programs: envdir envuidgid fghack multilog pgrphack readproctitle setlock " +
      "setuidgid softlimit supervise svc svok svscan svscanboot svstat tai64n tai64nlocal\n",
  );
});

Deno.test("daemontools without a program name: usage, exit 100", async () => {
  const r = await run(`${bin()}/daemontools`);
  assertEquals(r.code, 100);
  assertEquals(r.stderr.startsWith(USAGE_HEAD), true);
});

Deno.test("every program has its link and its module", async () => {
  const { PROGRAMS } = await import("../main.ts");
  for (const p of PROGRAMS) {
    assertEquals(Deno.lstatSync(`${bin()}/${p}`).isSymlink, true, p);
    assertEquals(Deno.statSync(new URL(`../cmd/${p}.ts`, import.meta.url)).isFile, true, p);
  }
});

Deno.test("busybox style: daemontools PROGRAM ARGS runs PROGRAM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dt-dispatch-" });
  try {
    const viaLink = await run(`${bin()}/svok`, [`${dir}/missing`]);
    const viaName = await run(`${bin()}/daemontools`, ["svok", `${dir}/missing`]);
    assertEquals(viaName.code, 111);
    assertEquals(
      viaName.stderr,
      `svok: fatal: unable to chdir to ${dir}/missing: file does not exist\n`,
    );
    assertEquals([viaName.code, viaName.stdout, viaName.stderr], [
      viaLink.code,
      viaLink.stdout,
      viaLink.stderr,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

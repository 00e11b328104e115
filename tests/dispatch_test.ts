import { assertEquals } from "./assert.ts";
import { bin, root, run } from "./util.ts";

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
      "setuidgid softlimit supervise svc svok svscan svscanboot svstat svwait tai64n tai64nlocal\n",
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

Deno.test("the launcher runs the JavaScript bundle scripts/build.sh made", async () => {
  const launcher = Deno.readTextFileSync(`${bin()}/daemontools`);
  const entry = /^import \{ dispatch \} from "file:\/\/(.*)";$/m.exec(launcher)?.[1];
  assertEquals(entry, `${Deno.realPathSync(bin())}/.js/main.js`);
  for (const p of ["svok", "envdir", "setuidgid", "softlimit", "multilog", "svscan"]) {
    assertEquals(Deno.statSync(`${bin()}/.js/cmd/${p}.js`).isFile, true, p);
  }
  // a chain through the bundle: two links in one process, then the exec
  const env = await Deno.makeTempDir({ prefix: "dt-bundle-env-" });
  try {
    Deno.writeTextFileSync(`${env}/FOO`, "bar\n");
    const r = await run(`${bin()}/envdir`, [
      env,
      `${bin()}/softlimit`,
      "-o",
      "64",
      "sh",
      "-c",
      "echo $FOO; ulimit -n",
    ]);
    assertEquals([r.code, r.stdout, r.stderr], [0, "bar\n64\n", ""]);
  } finally {
    await Deno.remove(env, { recursive: true });
  }
});

Deno.test("no bundle (deno bundle fails): the launcher runs the TypeScript sources", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dt-nobundle-" });
  try {
    // a deno that refuses to bundle
    const deno = `${dir}/deno`;
    Deno.writeTextFileSync(
      deno,
      `#!/bin/sh\n[ "$1" = bundle ] && exit 1\nexec '${Deno.execPath()}' "$@"\n`,
    );
    Deno.chmodSync(deno, 0o755);
    const b = await run("sh", [`${root}/scripts/build.sh`, `${dir}/bin`, root], {
      env: { DENO: deno, DENORT_BIN: "", LAUNCHER_ONLY: "1" },
    });
    assertEquals(b.code, 0, b.stderr);
    assertEquals(b.stdout.includes("deno bundle failed"), true, b.stdout);
    const launcher = Deno.readTextFileSync(`${dir}/bin/daemontools`);
    assertEquals(launcher.includes(`from "file://${root}/main.ts"`), true, launcher);
    const r = await run(`${dir}/bin/svok`, [`${dir}/missing`]);
    assertEquals(
      [r.code, r.stderr],
      [111, `svok: fatal: unable to chdir to ${dir}/missing: file does not exist\n`],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import { assertEquals } from "./assert.ts";
import { bin, prog, root, run } from "./util.ts";

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
  const { PROGRAMS } = await import("../lib/programs.ts");
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

/** The module a launcher runs: the Perl launcher's `$entry`, or the env launcher's import. */
function launcherEntry(launcher: string): string | undefined {
  return /^my \$entry = '(.*)';$/m.exec(launcher)?.[1] ??
    /^import \{ dispatch \} from "file:\/\/(.*)";$/m.exec(launcher)?.[1];
}

Deno.test("the launcher runs the JavaScript bundle scripts/build.sh made", async () => {
  const launcher = Deno.readTextFileSync(`${bin()}/daemontools`);
  assertEquals(launcherEntry(launcher), `${Deno.realPathSync(bin())}/.js/main.js`);
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
    assertEquals(launcherEntry(launcher), `${root}/main.ts`, launcher);
    const r = await run(`${dir}/bin/svok`, [`${dir}/missing`]);
    assertEquals(
      [r.code, r.stderr],
      [111, `svok: fatal: unable to chdir to ${dir}/missing: file does not exist\n`],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the env launcher (where there is no Perl) dispatches as the Perl one does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dt-envlauncher-" });
  try {
    const b = await run("sh", [`${root}/scripts/build.sh`, `${dir}/bin`, root], {
      env: { DENO: Deno.execPath(), DENORT_BIN: "", LAUNCHER_ONLY: "1", LAUNCHER: "env" },
    });
    assertEquals(b.code, 0, b.stderr);
    const launcher = Deno.readTextFileSync(`${dir}/bin/daemontools`);
    assertEquals(launcher.startsWith("#!/usr/bin/env -S "), true, launcher);
    const r = await run(`${dir}/bin/svok`, [`${dir}/missing`]);
    assertEquals(
      [r.code, r.stderr],
      [111, `svok: fatal: unable to chdir to ${dir}/missing: file does not exist\n`],
    );
    await Deno.mkdir(`${dir}/env`);
    await Deno.writeTextFile(`${dir}/env/X`, "x\n");
    const e = await run(`${dir}/bin/daemontools`, ["envdir", `${dir}/env`, "sh", "-c", "echo $X"]);
    assertEquals([e.code, e.stdout, e.stderr], [0, "x\n", ""]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("arguments reach the program as bytes (not UTF-8: from /proc/self/cmdline)", async () => {
  // bytes ff fe, then a valid U+FFFD (ef bf bd) and a lone continuation byte, then plain text
  const script =
    `"$0" pgrphack /bin/echo "$(printf '\\377\\376')" "$(printf '\\357\\277\\275\\200')" ok`;
  const want = [0xff, 0xfe, 32, 0xef, 0xbf, 0xbd, 0x80, 32, 111, 107, 10];
  const busybox = await run("sh", ["-c", script, `${bin()}/daemontools`]);
  assertEquals([busybox.code, [...busybox.out], busybox.stderr], [0, want, ""]);
  const viaLink = await run("sh", [
    "-c",
    script.replace('"$0" pgrphack', '"$0"'),
    prog("pgrphack"),
  ]);
  assertEquals([viaLink.code, [...viaLink.out], viaLink.stderr], [0, want, ""]);
});

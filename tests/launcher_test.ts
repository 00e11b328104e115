/**
 * Issue 14, items 7 and 8: what the runtime would get wrong before any of our code runs, and
 * the launcher (scripts/launcher.pl) keeps right. A descriptor among 0-2 the caller closed
 * stays closed (reads and writes fail, children get it closed, the next descriptor opened
 * takes its number); the runtime's own variables (DENO_V8_FLAGS, RUST_*, NO_COLOR) neither
 * stop nor steer a program, and reach its children exactly, in order.
 */
import { assert, assertEquals } from "./assert.ts";
import { differential, same, SLEEP, type Tree, tree } from "./fixtures.ts";
import { prog, readOr, script, waitFor } from "./util.ts";

/** `sh -c SCRIPT` with an empty environment but PATH: exit code, stdout, stderr as bytes. */
async function sh(cmd: string, cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", cmd],
    cwd,
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, out: [...out.stdout], err: [...out.stderr] };
}

/**
 * Start `supervise DIR` through `sh -c "exec ENV SUPERVISE DIR REDIR"` (stopped with `svc -dx`
 * when the tree is disposed of).
 */
function superviseVia(t: Tree, svc: string, supervise: string, dir: string, env = "", redir = "") {
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", `exec ${env} '${supervise}' '${dir}' ${redir}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  t.defer(async () => {
    await new Deno.Command(svc, { args: ["-dx", dir] }).output();
    await child.status;
  });
}

Deno.test("launcher: a closed stdout makes tai64n fail (111), not write into /dev/null", async () => {
  await using t = await tree();
  const r = await sh(`echo hi | '${prog("tai64n")}' >&-; echo rc=$? >&2`, t.root);
  assertEquals(new TextDecoder().decode(new Uint8Array(r.err)).trim().split("\n").pop(), "rc=111");
});

differential("launcher: closed descriptors as Debian's programs see them", [
  "tai64n",
  "tai64nlocal",
  "svstat",
  "readproctitle",
  "setlock",
], async () => {
  await using t = await tree();
  // exit codes and messages (stderr kept open) for a closed stdout, and a closed stdin
  const cases: [string, string][] = [
    ["tai64n", `echo hi | P >&-`],
    ["tai64nlocal", `echo @400000000000000000000000 x | P >&-`],
    ["svstat", `P . >&-`],
    ["readproctitle", `P a ......... <&-`],
    ["readproctitle", `P a ......... 0<&-`],
  ];
  for (const [name, cmd] of cases) {
    await same(name, (p) => sh(`${cmd.replace("P", `'${p}'`)}; echo rc=$? >&2`, t.root));
  }
  // the lock takes the number 0.76's open() gives it: the lowest free one, here 1
  await same("setlock", async (p) => {
    const r = await sh(`'${p}' lk sh -c 'readlink /proc/$$/fd/1 > where' >&-`, t.root);
    return [r.code, readOr(`${t.root}/where`).replace(t.root, "ROOT")];
  });
});

differential("launcher: supervise's ./run gets the caller's closed stdout closed", [
  "supervise",
  "svc",
], async (deb) => {
  await using t = await tree();
  const run = "#!/bin/sh\nr=closed; [ -L /proc/$$/fd/1 ] && r=open; echo $r >result\n" +
    "exec sleep 100000\n";
  for (const [who, supervise] of [["ours", prog("supervise")], ["debian", deb.supervise]]) {
    const dir = await t.service(who, { run });
    superviseVia(t, deb.svc, supervise, dir, "", ">&-");
    await waitFor(`${who} result`, () => readOr(`${dir}/result`) !== "");
  }
  assertEquals(readOr(`${t.root}/ours/result`), "closed\n");
  assertEquals(readOr(`${t.root}/ours/result`), readOr(`${t.root}/debian/result`));
});

/** The environment used below: runtime variables among others, one not UTF-8, in an order. */
const RUNTIME_ENV = "A=1 DENO_V8_FLAGS=--bogus RUST_BACKTRACE=full NO_COLOR=1 " +
  "DENO_DIR=/nonexistent-cache B=\"$(printf 'v\\377')\" Z=last";

Deno.test("launcher: a bad DENO_V8_FLAGS does not stop a program; the child gets it unchanged", async () => {
  await using t = await tree();
  await Deno.mkdir(`${t.root}/e`);
  const r = await sh(`env -i ${RUNTIME_ENV} '${prog("envdir")}' e /usr/bin/env`, t.root);
  assertEquals(r.err, []);
  assertEquals(r.code, 0);
  const want = [
    "A=1",
    "DENO_V8_FLAGS=--bogus",
    "RUST_BACKTRACE=full",
    "NO_COLOR=1",
    "DENO_DIR=/nonexistent-cache",
    "B=v\xff",
    "Z=last",
    "",
  ].join("\n");
  assertEquals(r.out, [...want].map((c) => c.charCodeAt(0)));
});

differential("launcher: runtime variables reach children as under Debian", [
  "envdir",
  "supervise",
  "svc",
], async (deb) => {
  await using t = await tree();
  await Deno.mkdir(`${t.root}/e`);
  await same("envdir", (p) => sh(`env -i ${RUNTIME_ENV} '${p}' e /usr/bin/env`, t.root));
  // supervise: ./run's environment
  const outs: string[] = [];
  for (const [who, supervise] of [["ours", prog("supervise")], ["debian", deb.supervise]]) {
    const dir = await t.service(who, { run: SLEEP });
    await script(`${dir}/run`, "#!/bin/sh\n/usr/bin/env >env.out\nexec sleep 100000\n");
    superviseVia(t, deb.svc, supervise, dir, `env -i ${RUNTIME_ENV}`);
    await waitFor(`${who} env`, () => readOr(`${dir}/env.out`).includes("Z=last"));
    outs.push(readOr(`${dir}/env.out`));
  }
  // the shell adds PWD the same way under both (but for the directory's name)
  const pwd = (s: string) => s.replace(/^PWD=.*\/(ours|debian)$/m, "PWD=DIR");
  assertEquals(pwd(outs[0]), pwd(outs[1]));
  assert(outs[0].includes("DENO_V8_FLAGS=--bogus"));
});

/**
 * Chain loaders: setuidgid, envuidgid, envdir, softlimit, setlock, pgrphack,
 * fghack. Real processes, exact bytes; differential against Debian's
 * daemontools when installed; root-only cases (credentials) are skipped
 * otherwise.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { alive, asleep, bin, debian, haveDebian, probe, prog, run, waitFor } from "./util.ts";
import { tree } from "./fixtures.ts";
import { writeFds } from "../cmd/fghack.ts";

const LINKS = ["envdir", "envuidgid", "fghack", "pgrphack", "setlock", "setuidgid", "softlimit"];
const isRoot = Deno.uid() === 0;
const haveStrace = probe("/usr/bin/strace", ["-f", "-o", "/dev/null", "/bin/true"]) !== undefined;

/** Descriptors this test process passes on to its children (non-close-on-exec, above 2). */
function passedOn(): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      const info = Deno.readTextFileSync(`/proc/self/fdinfo/${e.name}`);
      const flags = parseInt(/flags:\s+(\d+)/.exec(info)![1], 8);
      if (Number(e.name) > 2 && (flags & 0o2000000) === 0) out.push(Number(e.name));
    } catch {
      // the directory's own descriptor, gone already
    }
  }
  return out;
}

/** A world-readable scratch dir (setuidgid nobody must reach it). */
function world(prefix: string): string {
  const d = Deno.makeTempDirSync({ prefix });
  Deno.chmodSync(d, 0o755);
  return d;
}

let fixture: string | undefined;
/**
 * Shared fixture: `ours/` and `deb/` hold links named like the programs
 * (ours: the build's links; deb: Debian's binaries), `copies/` holds copies
 * of our launcher (not "this executable": every link is exec'd for real),
 * plus env dirs for envdir.
 */
function fx(): string {
  if (fixture) return fixture;
  const b = bin();
  Deno.chmodSync(b, 0o755);
  const d = world("dt-chain-");
  Deno.mkdirSync(`${d}/ours`);
  Deno.mkdirSync(`${d}/deb`);
  Deno.mkdirSync(`${d}/copies`);
  for (const p of LINKS) {
    Deno.symlinkSync(prog(p), `${d}/ours/${p}`);
    const dp = debian(p);
    if (dp) Deno.symlinkSync(dp, `${d}/deb/${p}`);
    Deno.copyFileSync(`${b}/daemontools`, `${d}/copies/${p}`);
    Deno.chmodSync(`${d}/copies/${p}`, 0o755);
  }
  const w = (p: string, s: string | Uint8Array) =>
    typeof s === "string"
      ? Deno.writeTextFileSync(`${d}/${p}`, s)
      : Deno.writeFileSync(`${d}/${p}`, s);
  Deno.mkdirSync(`${d}/env`);
  w("env/NUL", new Uint8Array([97, 0, 98, 0, 10, 120]));
  w("env/TRAIL", "first line  \t \nsecond\n");
  w("env/EMPTYLINE", "\n");
  w("env/NOEOL", "noeol");
  w("env/CR", " lead\r  \n");
  w("env/HOME", "");
  w("env/.hidden", "x\n");
  Deno.mkdirSync(`${d}/envsub`);
  Deno.mkdirSync(`${d}/envsub/sub`);
  Deno.mkdirSync(`${d}/envloop`);
  Deno.symlinkSync("l2", `${d}/envloop/l1`);
  Deno.symlinkSync("l1", `${d}/envloop/l2`);
  Deno.symlinkSync("dirloop", `${d}/dirloop`);
  Deno.mkdirSync(`${d}/e`);
  Deno.symlinkSync("L", `${d}/e/L`);
  Deno.mkdirSync(`${d}/envdangle`);
  Deno.symlinkSync("nowhere", `${d}/envdangle/GONE`);
  Deno.mkdirSync(`${d}/envpath`);
  w("envpath/PATH", "/nonexistent\n");
  w("plain", "x\n");
  w(
    "show.sh",
    "for v in NUL TRAIL EMPTYLINE NOEOL CR HOME KEEP P_NOEOL P_HOME; do\n" +
      '  eval "printf \\"%s=[%s]\\n\\" $v \\"\\${$v-unset}\\""\ndone\n',
  );
  Deno.mkdirSync(`${d}/pub`);
  Deno.chmodSync(`${d}/pub`, 0o1777); // nobody creates its lock files here
  Deno.mkdirSync(`${d}/plaindir`);
  w("plaindir/plain", "x\n");
  w("noexec", "#!/bin/sh\necho hi\n");
  fixture = d;
  globalThis.addEventListener("unload", () => Deno.removeSync(d, { recursive: true }));
  return d;
}

/** Run `sh -c script` in the fixture with PATH = DIR:/usr/bin:/bin and a small fixed environment. */
function sh(dir: "ours" | "deb" | "copies", script: string, env: Record<string, string> = {}) {
  const d = fx();
  return run("/usr/bin/env", [
    "-i",
    `PATH=${d}/${dir}:/usr/bin:/bin`,
    "HOME=/home/x",
    "KEEP=1",
    "RUST_BACKTRACE=0",
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    "/bin/sh",
    "-c",
    script,
  ], { cwd: d });
}

/** What must agree between two implementations (the PATH line names different dirs). */
function outcome(r: { code: number; stdout: string; stderr: string }) {
  const strip = (s: string) => s.split("\n").filter((l) => !l.startsWith("PATH=")).join("\n");
  return { code: r.code, stdout: strip(r.stdout), stderr: r.stderr };
}

/** Cases run through `sh -c` with both implementations: same stdout, stderr, exit code. */
const CASES: string[] = [
  // usage and exit codes
  "setuidgid",
  "setuidgid nobody",
  "envuidgid",
  "envuidgid nobody",
  "envdir",
  "envdir env",
  "softlimit",
  "softlimit -o 5",
  "softlimit -x true",
  "softlimit -o",
  "softlimit -o 12x true",
  "softlimit -o abc -x true",
  "softlimit -o 5 -x true",
  "setlock",
  "setlock lk",
  "setlock -y lk true",
  "pgrphack",
  "fghack",
  // bad input
  "setuidgid nosuchaccount true",
  "envuidgid nosuchaccount true",
  "setuidgid root ./nonexistent",
  "setuidgid root nonexistent-program",
  "setuidgid root ./plain",
  "setuidgid root /",
  "envdir nonexistent true",
  "envdir plain true",
  "envdir dirloop true",
  "envdir envloop true",
  "envdir envsub true",
  "envdir env ./noexec",
  "softlimit -o 64 ./nonexistent",
  "setlock /nonexistent/lk true",
  "setlock /proc/lk true",
  "setlock / true",
  "setlock /sys/lk true",
  "setlock -x /nonexistent/lk true; echo $?",
  "pgrphack ./nonexistent",
  "fghack ./nonexistent",
  "envuidgid root ''",
  // effects
  "envdir env env",
  "envdir env envdir envpath env",
  "envdir envpath true",
  "envuidgid root env",
  "UID=x GID=y FOO=z envuidgid nobody env",
  "envdir env envuidgid root env",
  "softlimit -a 2000000000 -c 0 -d 1000000000 -f 100000 -l 65536 -o 50 -p 500 -r 1000000 " +
  "-s 2000000 -t 1000 sh -c 'ulimit -a'",
  "softlimit -m 100000000 sh -c 'ulimit -a'",
  "softlimit -o 99999999999 -t = sh -c 'ulimit -n -t'",
  "softlimit -o 18446744073709551621 sh -c 'echo'; echo $?",
  "softlimit -o '' -o= sh -c 'ulimit -n'",
  "softlimit -o5 -- sh -c 'ulimit -n'",
  "softlimit --foo sh -c 'echo ok'",
  "softlimit - true",
  "setlock lk sh -c 'readlink /proc/$$/fd/3'; setlock lk ls -v /proc/self/fd | tr '\\n' ' '",
  "setlock -n lk setlock -n lk true",
  "setlock -nx lk setlock -nx lk echo two; echo $?",
  "setlock -n lk setlock -N lk2 setlock -X lk3 ls -v /proc/self/fd | tr '\\n' ' '",
  "pgrphack sh -c 'set -- $(cat /proc/$$/stat); [ $1 = $5 ] && [ $1 = $6 ] && echo leader'",
  "fghack sh -c '(sleep 1; echo late) & exit 7'; echo $?",
  "fghack ls -v /proc/self/fd | tr '\\n' ' '",
  "fghack sh -c 'kill -9 $$'; echo $?",
  "fghack fghack sh -c 'exit 3'; echo $?",
  "envdir env setlock lk softlimit -o 40 pgrphack fghack sh -c 'echo $NUL; ulimit -n'",
];

const ROOT_CASES: string[] = [
  "setuidgid nobody id",
  "setuidgid nobody sh -c 'grep -E \"^(Uid|Gid|Groups)\" /proc/$$/status'",
  "setuidgid nobody ./noexec",
  "setuidgid nobody setlock /root/lk true",
  "setuidgid nobody envdir /root true",
  "envdir env setuidgid nobody softlimit -o 64 -m 100000000 sh -c 'id; ulimit -a; echo $NUL'",
  "softlimit -o 64 setuidgid nobody envuidgid root env",
  "softlimit -p 0 setuidgid nobody true; echo $?",
  "ulimit -p 3; setuidgid nobody sh -c 'ulimit -p'",
  "ulimit -p 3; setuidgid nobody sh -c 'ulimit -p'",
  "softlimit -p 1 setuidgid nobody sh -c 'ulimit -p'",
];

Deno.test({
  name: "differential with Debian: same stdout, stderr and exit code",
  ignore: !haveDebian,
  fn: async () => {
    for (const c of [...CASES, ...(isRoot ? ROOT_CASES : [])]) {
      const [ours, deb] = [await sh("ours", c), await sh("deb", c)];
      assertEquals(outcome(ours), outcome(deb), c);
    }
  },
});

Deno.test("exact messages and exit codes of 0.76 (spec §7)", async () => {
  const check = async (c: string, code: number, stderr: string, stdout = "") => {
    const r = await sh("ours", c);
    assertEquals({ code: r.code, stdout: r.stdout, stderr: r.stderr }, { code, stdout, stderr }, c);
  };
  await check("setuidgid x", 100, "setuidgid: usage: setuidgid account child\n");
  await check("envuidgid", 100, "envuidgid: usage: envuidgid account child\n");
  await check("envdir env", 111, "envdir: usage: envdir dir child\n");
  await check("pgrphack", 100, "pgrphack: usage: pgrphack child\n");
  await check("fghack", 100, "fghack: usage: fghack child\n");
  await check("setlock lk", 100, "setlock: usage: setlock [ -nNxX ] file program [ arg ... ]\n");
  await check(
    "softlimit -q true",
    100,
    "softlimit: illegal option -- q\nsoftlimit: usage: softlimit [-a allbytes] [-c corebytes] " +
      "[-d databytes] [-f filebytes] [-l lockbytes] [-m membytes] [-o openfiles] [-p processes] " +
      "[-r residentbytes] [-s stackbytes] [-t cpusecs] child\n",
  );
  await check(
    "setuidgid nosuchaccount true",
    111,
    "setuidgid: fatal: unknown account nosuchaccount\n",
  );
  await check(
    "envdir nonexistent true",
    111,
    "envdir: fatal: unable to switch to directory nonexistent: file does not exist\n",
  );
  await check(
    "envdir plain true",
    111,
    "envdir: fatal: unable to switch to directory plain: not a directory\n",
  );
  assertMatch(
    (await sh("ours", "envdir envloop true")).stderr,
    /^envdir: fatal: unable to read envloop\/l[12]: symbolic link loop\n$/,
  );
  await check(
    "envdir envsub true",
    111,
    "envdir: fatal: unable to read envsub/sub: is a directory\n",
  );
  await check(
    "envdir env ./nonexistent",
    111,
    "envdir: fatal: unable to run ./nonexistent: file does not exist\n",
  );
  await check("pgrphack ./plain", 111, "pgrphack: fatal: unable to run ./plain: access denied\n");
  await check("softlimit -o 64 /", 111, "softlimit: fatal: unable to run /: access denied\n");
  await check(
    "setlock /nonexistent/lk true",
    111,
    "setlock: fatal: unable to open /nonexistent/lk: file does not exist\n",
  );
  await check(
    "setlock lk setlock -n lk true",
    111,
    "setlock: fatal: unable to lock lk: temporary failure\n",
  );
  await check(
    "fghack ./nonexistent",
    111,
    "fghack: fatal: unable to run ./nonexistent: file does not exist\n",
  );
  await check("fghack sh -c 'kill -9 $$'", 111, "fghack: fatal: child crashed\n");
  // PATH search: EACCES (not executable) remembered over a later ENOENT; empty element = "."
  const d = fx();
  await check(
    `PATH=${d}/plaindir:${d}/none; export PATH; ${d}/ours/pgrphack plain`,
    111,
    "pgrphack: fatal: unable to run plain: access denied\n",
  );
  await check(
    `PATH=/none:; export PATH; ${d}/ours/pgrphack noexec`,
    111,
    "pgrphack: fatal: unable to run noexec: access denied\n",
  );
  await check(`PATH=:/bin; export PATH; ${d}/ours/pgrphack echo x`, 0, "", "x\n");
});

/**
 * Cases with arguments that are not UTF-8 (issue 14, item 5): `$X` is the bytes ff fe, `$Y` a
 * valid U+FFFD (ef bf bd) beside an invalid byte. Every chain loader, alone and in-process.
 */
const BYTES_SETUP = "X=$(printf '\\377\\376'); Y=$(printf '\\357\\277\\275\\200'); " +
  `mkdir -p "b$X"; printf 'v\\377\\n' >"b$X/V$X"; `;
const BYTES_CASES: string[] = [
  'pgrphack /bin/echo "$X" "$Y"',
  'setlock "u$X.lk" /bin/echo "$X"; ls -d u*.lk; rm -f u*.lk',
  'setlock "/nonexistent/$X" true',
  'envdir "b$X" /usr/bin/env | grep -a "^V"; envdir "b$X" /bin/echo "$X"',
  'envdir "none$X" true',
  'softlimit -o 64 /bin/echo "$X"',
  'softlimit -o "$X" true',
  'softlimit "-$X" true; setlock "-$X" lk true',
  'fghack /bin/echo "$X"',
  'setuidgid root /bin/echo "$X"',
  'setuidgid "no$X" true',
  'envuidgid root /bin/echo "$X"',
  'envuidgid "no$X" true',
  'envdir "b$X" setuidgid root softlimit -o 64 setlock "u$X.lk" fghack pgrphack /bin/echo "$X"',
  'pgrphack "./$X"',
];

Deno.test({
  name: "non-UTF-8 arguments: the same bytes as Debian's (names, the program's argv, messages)",
  ignore: !haveDebian,
  fn: async () => {
    for (const c of BYTES_CASES) {
      const [ours, deb] = [await sh("ours", BYTES_SETUP + c), await sh("deb", BYTES_SETUP + c)];
      assertEquals([ours.code, ours.out, ours.err], [deb.code, deb.out, deb.err], c);
    }
  },
});

Deno.test("non-UTF-8 arguments reach the program and the messages as bytes", async () => {
  const check = async (c: string, code: number, out: number[], err: string | number[] = []) => {
    const r = await sh("ours", BYTES_SETUP + c);
    const e = typeof err === "string" ? [...new TextEncoder().encode(err)] : err;
    assertEquals([r.code, [...r.out], [...r.err]], [code, out, e], c);
  };
  const nl = 10;
  await check('pgrphack /bin/echo "$X" "$Y"', 0, [0xff, 0xfe, 32, 0xef, 0xbf, 0xbd, 0x80, nl]);
  await check('envdir "b$X" setuidgid root softlimit -o 64 fghack /bin/echo "$X"', 0, [
    0xff,
    0xfe,
    nl,
  ]);
  // encore's envdir -p (not in Debian's): the prefix's bytes too
  await check('envdir -p "$X" "b$X" /usr/bin/env | grep -a "V"', 0, [
    0xff,
    0xfe,
    86,
    0xff,
    0xfe,
    61,
    118,
    0xff,
    nl,
  ]);
  const msg = [...new TextEncoder().encode("setlock: fatal: unable to open /nonexistent/")];
  await check('setlock "/nonexistent/$X" true', 111, [], [
    ...msg,
    0xff,
    0xfe,
    ...new TextEncoder().encode(": file does not exist\n"),
  ]);
});

/**
 * Run each of `commands` `n` times, interleaved, `parallel` at a time, in the fixture; how often
 * each outcome (`CODE STDERR`) came.
 */
async function outcomes(
  n: number,
  parallel: number,
  commands: string[][],
): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const queue = Array.from({ length: n }, () => commands).flat();
  const worker = async () => {
    for (let argv = queue.shift(); argv; argv = queue.shift()) {
      const r = await run(argv[0], argv.slice(1), { cwd: fx() });
      const key = `${r.code} ${r.stderr}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return seen;
}

/**
 * Runs of each command in the errno stress test. Reading errno after the call (the code before
 * lib/sys.ts) gave another call's errno in 1-5 % of runs here, varying with the machine's load:
 * the runtime's first contended lock, on the main thread, probes
 * /sys/devices/system/cpu/cpu0/tsc_freq_khz (ENOENT) between the failing call and the read.
 */
const STRESS_RUNS = 100;

Deno.test("errno under load: every run reports the errno of the call that failed", async () => {
  const d = fx();
  const held = Deno.openSync(`${d}/held`, { create: true, write: true });
  try {
    held.lockSync(true); // flock, exclusive: every setlock -n must get EWOULDBLOCK
    const envdir = ["envdir", "e", "/bin/true"];
    const setlock = ["setlock", "-n", "held", "/bin/true"];
    const want = [
      ["111 envdir: fatal: unable to read e/L: symbolic link loop\n", STRESS_RUNS],
      ["111 setlock: fatal: unable to lock held: temporary failure\n", STRESS_RUNS],
    ];
    if (haveDebian) {
      const deb = await outcomes(1, 1, [envdir, setlock].map(([p, ...a]) => [debian(p)!, ...a]));
      assertEquals([...deb].sort(), want.map(([k]) => [k, 1]));
    }
    const ours = [envdir, setlock].map(([p, ...a]) => [`${d}/ours/${p}`, ...a]);
    assertEquals([...await outcomes(STRESS_RUNS, 2, ours)].sort(), want);
  } finally {
    held.close();
  }
});

Deno.test("a program of ours run in-process at the end of a chain hands the chain's environment on as bytes", async () => {
  await using t = await tree("dt-chain-env-");
  // ./run's environ exactly as execve gave it (a shell would drop a name that is not one)
  const svc = await t.service("s", {
    run: "#!/usr/bin/perl\nopen(E, '<', '/proc/self/environ'); local $/; my $e = <E>;\n" +
      "open(O, '>', 'env.tmp'); print O $e; close O; rename('env.tmp', 'env.out');\n" +
      "exec('sleep', '100000');\n",
  });
  // envdir's variable: name and value not UTF-8 (V ff = v fe)
  Deno.mkdirSync(t.path("e"));
  const made = await run("sh", [
    "-c",
    `printf 'v\\376\\n' >"$1/V$(printf '\\377')"`,
    "sh",
    t.path("e"),
  ]);
  assertEquals(made.code, 0, made.stderr);
  const child = new Deno.Command(prog("envdir"), {
    args: [t.path("e"), prog("supervise"), svc],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  t.defer(async () => {
    if (alive(child.pid)) Deno.kill(child.pid, "SIGKILL");
    await child.status;
  });
  const out = `${svc}/env.out`;
  const env = await waitFor("./run's environment", () => {
    try {
      const b = Deno.readFileSync(out);
      return b.length > 0 ? b : undefined;
    } catch {
      return undefined;
    }
  });
  const lines: Uint8Array[] = [];
  for (let i = 0, start = 0; i < env.length; i++) {
    if (env[i] === 0) lines.push(env.subarray(start, i)), start = i + 1;
  }
  assertEquals(lines.filter((l) => l[0] === 86 && l[1] === 0xff).map((l) => [...l]), [[
    86,
    0xff,
    61,
    118,
    0xfe,
  ]]);
});

Deno.test("envdir: first line, trailing blanks, NUL -> newline, empty file removes, -p prefix", async () => {
  const r = await sh("ours", "envdir env sh show.sh");
  assertEquals(r.stderr, "");
  assertEquals(
    r.stdout,
    "NUL=[a\nb\n]\nTRAIL=[first line]\nEMPTYLINE=[]\nNOEOL=[noeol]\nCR=[ lead\r]\nHOME=[unset]\n" +
      "KEEP=[1]\nP_NOEOL=[unset]\nP_HOME=[unset]\n",
  );
  const hidden = await sh("ours", "envdir env env");
  assert(!hidden.stdout.includes(".hidden"), "entries starting with . are skipped");
  // encore's -p: names get the prefix, the rest stays
  const p = await sh(
    "ours",
    "envdir -p P_ env sh -c 'echo \"$P_NOEOL|${P_HOME-unset}|$HOME|$NOEOL\"'",
  );
  assertEquals(p.stdout, "noeol|unset|/home/x|\n");
  const p2 = await sh("ours", "envdir -pQ_ env sh -c 'echo \"$Q_NOEOL\"'");
  assertEquals(p2.stdout, "noeol\n");
  // a dangling symlink removes the variable (0.76 would reuse a stale buffer)
  const g = await sh("ours", "GONE=x envdir envdangle sh -c 'echo ${GONE-unset}'");
  assertEquals(g.stdout, "unset\n");
});

Deno.test({
  name: "the exec'd program: same pid, the target's image, one thread, clean signals, no stray fds",
  ignore: !isRoot,
  fn: async () => {
    const d = fx();
    // what this test process hands every child, sampled at spawn time (not after: other
    // tests in this process may open or close descriptors meanwhile)
    const inherited = passedOn();
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        `exec 5<${d}/plain; grep -E '^Sig(Ign|Blk)' /proc/$$/status >&2; exec envdir env setuidgid nobody softlimit -o 64 setlock ${d}/pub/lk ` +
        `pgrphack sleep 1000`,
      ],
      cwd: d,
      env: { PATH: `${d}/ours:/usr/bin:/bin` },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const pid = child.pid;
    const reader = child.stderr.getReader();
    try {
      // the sleep PATH finds first (usr-merged or not)
      const sleep = ["/usr/bin/sleep", "/bin/sleep"].map((p) => {
        try {
          return Deno.realPathSync(p);
        } catch {
          return "";
        }
      }).find((p) => p !== "")!;
      await waitFor(
        "sleep exec'd and asleep",
        () => Deno.readLinkSync(`/proc/${pid}/exe`) === sleep && asleep(pid),
      );
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      const field = (f: string) => new RegExp(`^${f}:\\s*(.*)$`, "m").exec(status)![1].trim();
      assertEquals(field("Threads"), "1");
      // signals as the chain got them (the shell's state: Deno.Command leaves 32 and 33
      // ignored), but those the runtime takes over at its start (SIGPIPE, 33: their
      // inherited state is unknowable) are back to default
      const base = new TextDecoder().decode((await reader.read()).value);
      const baseField = (f: string) =>
        BigInt(`0x${new RegExp(`^${f}:\\s*(.*)$`, "m").exec(base)![1]}`);
      const runtime = (1n << 12n) | (1n << 32n);
      assertEquals(BigInt(`0x${field("SigIgn")}`), baseField("SigIgn") & ~runtime);
      // the mask as a fresh process has it (issue 4: reset before exec), whatever the shell
      // had: Deno.Command may spawn it from a thread with most signals blocked
      assertEquals(BigInt(`0x${field("SigBlk")}`), 0n);
      assertEquals(field("Uid"), "65534\t65534\t65534\t65534");
      assertEquals(field("Gid"), "65534\t65534\t65534\t65534");
      assertEquals(field("Groups"), "65534");
      const fds = [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => Number(e.name)).sort((a, b) =>
        a - b
      );
      // stdio, the inherited 5 (and whatever this test process passes on), setlock's lock at
      // 0.76's number: the lowest one free in the program
      const had = new Set([0, 1, 2, 5, ...inherited]);
      let lockFd = 0;
      while (had.has(lockFd)) lockFd++;
      assertEquals(fds, [...had, lockFd].sort((a, b) => a - b));
      assertEquals(Deno.readLinkSync(`/proc/${pid}/fd/${lockFd}`), `${d}/pub/lk`);
      assertEquals(Deno.readLinkSync(`/proc/${pid}/fd/5`), `${d}/plain`);
      const ino = Deno.statSync(`${d}/pub/lk`).ino;
      assert(
        Deno.readTextFileSync("/proc/locks").split("\n").some((l) =>
          l.includes("FLOCK") && l.includes(" WRITE ") && l.includes(`:${ino} `) &&
          l.includes(` ${pid} `)
        ),
        "lock held by the service pid",
      );
      const env = new TextDecoder().decode(Deno.readFileSync(`/proc/${pid}/environ`));
      assert(env.includes("NUL=a\nb\n\0"), "envdir's variable in the environment");
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
      assertEquals([stat[2], stat[3]], [String(pid), String(pid)]); // pgrphack: own group, session
      const lim = Deno.readTextFileSync(`/proc/${pid}/limits`);
      assertMatch(lim, /Max open files\s+64\s/);
    } finally {
      if (alive(pid)) Deno.kill(pid, "SIGKILL");
      await child.status;
      await reader.cancel();
    }
  },
});

Deno.test({
  name: "a chain of our own programs costs one start-up: only the foreign program is exec'd",
  ignore: !haveStrace,
  fn: async () => {
    const d = fx();
    const r = await run("/usr/bin/strace", [
      "-f",
      "-qq",
      "-e",
      "trace=execve",
      "-e",
      "signal=none",
      "-o",
      `${d}/strace.out`,
      "/usr/bin/env",
      `PATH=${d}/ours:/usr/bin:/bin`,
      "envdir",
      "env",
      "softlimit",
      "-o",
      "64",
      "pgrphack",
      "setlock",
      `${d}/lk`,
      "envuidgid",
      "root",
      "/bin/echo",
      "done",
    ], { cwd: d });
    assertEquals(r.stdout, "done\n");
    const execs = Deno.readTextFileSync(`${d}/strace.out`).split("\n").filter((l) =>
      /execve\(/.test(l) && !/= -1 /.test(l)
    );
    // env, the launcher of envdir (+ its #! interpreters), then /bin/echo: nothing for the 4 other links
    const targets = execs.map((l) => /execve\("([^"]*)"/.exec(l)![1]);
    assertEquals(targets.filter((t) => t.startsWith(`${d}/ours/`)), [`${d}/ours/envdir`]);
    assertEquals(targets[targets.length - 1], "/bin/echo");
  },
});

Deno.test("in-process links behave like exec'd ones (same output as one start-up per link)", async () => {
  const cases = [
    "envdir env envuidgid root softlimit -o 33 sh -c 'echo $NUL $UID; ulimit -n'",
    "softlimit -o 3x envdir env true",
    "envdir env envdir nonexistent true",
    "envdir envpath setlock lk true", // PATH for the next link comes from before envdir's changes
    "envdir envpath envuidgid root true",
    "setlock lk setlock -n lk true",
    "pgrphack envdir env fghack sh -c 'exit 9'; echo $?",
  ];
  for (const c of cases) {
    const [inproc, execd] = [await sh("ours", c), await sh("copies", c)];
    assertEquals(outcome(inproc), outcome(execd), c);
  }
});

Deno.test("softlimit: '-' (encore) makes soft and hard unlimited; = takes the hard limit", async () => {
  const r = await sh("ours", "softlimit -c = sh -c 'ulimit -S -c; ulimit -H -c'");
  const hard = (await sh("ours", "ulimit -H -c")).stdout;
  assertEquals(r.stdout, hard + hard);
  // raising a hard limit needs CAP_SYS_RESOURCE: expect what the shell itself can do
  const can =
    (await sh("ours", "ulimit -H -c 1000; ulimit -H -c unlimited 2>/dev/null")).code === 0;
  const u = await sh(
    "ours",
    "ulimit -H -c 1000; softlimit -c - sh -c 'ulimit -S -c; ulimit -H -c'",
  );
  if (can) assertEquals([u.stdout, u.stderr], ["unlimited\nunlimited\n", ""]);
  else assertEquals(u.stderr, "softlimit: fatal: setrlimit failed: permission denied\n");
  // deferred resources too (CPU time is applied at exec)
  const a = await sh("ours", "ulimit -t 1000; softlimit -t - sh -c 'ulimit -H -t'");
  if (can) assertEquals(a.stdout, "unlimited\n");
  else assertEquals(a.stderr, "softlimit: fatal: setrlimit failed: permission denied\n");
});

Deno.test({
  name: "setuidgid -s (encore): every group of the account",
  ignore: !isRoot,
  fn: async () => {
    // an account with supplementary groups if there is one, else nobody
    let account = "nobody";
    for (const line of Deno.readTextFileSync("/etc/group").split("\n")) {
      const members = line.split(":")[3];
      if (members) {
        const cand = members.split(",")[0];
        if ((await run("/usr/bin/id", ["-u", cand])).code === 0) {
          account = cand;
          break;
        }
      }
    }
    const want = (await run("/usr/bin/id", ["-G", account])).stdout.trim().split(" ").sort();
    const r = await sh("ours", `setuidgid -s ${account} sh -c 'grep ^Groups: /proc/$$/status'`);
    assertEquals(r.stdout.replace("Groups:", "").trim().split(/\s+/).sort(), want);
    const plain = await sh("ours", `setuidgid ${account} id -G`);
    assertEquals(plain.stdout.trim(), (await run("/usr/bin/id", ["-g", account])).stdout.trim());
  },
});

Deno.test("fghack: 31 write descriptors at 0.76's numbers, waits for EOF, passes the exit code", async () => {
  // the model: pipe() takes the two lowest free numbers, close(read end), 30 dup()s
  assertEquals(writeFds(new Set([0, 1, 2])), [
    4,
    3,
    ...Array.from({ length: 29 }, (_, i) => 5 + i),
  ]);
  const r = await sh(
    "ours",
    "fghack sh -c 'for f in /proc/$$/fd/*; do readlink $f; done | sort | uniq -c | sort -n | tail -1'",
  );
  assertMatch(r.stdout, /^\s*31 pipe:\[\d+\]\n$/);
  const late = await sh("ours", "fghack sh -c '(sleep 1; echo late) & exit 7'; echo $?");
  assertEquals(late.stdout, "late\n7\n");
  // the child's signals: what the chain got (HUP ignored here), but SIGPIPE and glibc's 32/33
  // (the runtime's, and posix_spawn's leftovers) default
  const sig = await sh(
    "ours",
    "trap '' HUP; grep ^SigIgn /proc/$$/status; exec fghack sh -c 'grep ^SigIgn /proc/$$/status'",
  );
  const [base, got] = sig.stdout.trim().split("\n").map((l) => BigInt(`0x${l.split(/\s+/)[1]}`));
  assert((base & 1n) === 1n, "HUP ignored by the shell");
  assertEquals(got, base & ~((1n << 12n) | (1n << 31n) | (1n << 32n)));
});

Deno.test("envuidgid: GID then UID, replacing existing values", async () => {
  const r = await sh("ours", "UID=x GID=y envuidgid nobody env", {});
  const lines = r.stdout.split("\n");
  assertEquals(lines.filter((l) => /^(UID|GID)=/.test(l)), ["GID=65534", "UID=65534"]);
});

Deno.test("every program of lib/programs.ts is chained in-process but readproctitle", async () => {
  const { LINKS: links, PROGRAMS, TERMINALS } = await import("../lib/programs.ts");
  assertEquals([...links].sort(), [...LINKS].sort());
  assertEquals(
    [...links, ...TERMINALS].sort(),
    PROGRAMS.filter((p: string) => p !== "readproctitle").sort(),
  );
});

Deno.test({
  name: "setuidgid inside a running chain: every thread of the runtime is the account",
  ignore: !isRoot,
  fn: async () => {
    const d = fx();
    // fghack stays resident: the Deno process that ran setuidgid in-process is still there
    const child = new Deno.Command(`${d}/ours/setuidgid`, {
      args: ["nobody", "fghack", "sleep", "1000"],
      cwd: d,
      clearEnv: true,
      env: { PATH: `${d}/ours:/usr/bin:/bin` },
      stdout: "null",
      stderr: "null",
    }).spawn();
    const pid = child.pid;
    const kids = () => {
      try {
        return Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/)
          .filter((x) => x !== "").map(Number);
      } catch {
        return [];
      }
    };
    try {
      await waitFor("fghack's child", () => kids().length === 1);
      const tasks = [...Deno.readDirSync(`/proc/${pid}/task`)].map((e) => e.name);
      assertEquals(Deno.realPathSync(`/proc/${pid}/exe`), Deno.realPathSync(Deno.execPath()));
      assert(tasks.length > 1, "the runtime has threads");
      for (const t of tasks) {
        const st = Deno.readTextFileSync(`/proc/${pid}/task/${t}/status`);
        assertMatch(st, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
        assertMatch(st, /^Groups:\s+65534\s*$/m);
      }
    } finally {
      for (const k of kids()) if (alive(k)) Deno.kill(k, "SIGKILL");
      if (alive(pid)) Deno.kill(pid, "SIGKILL");
      await child.status;
    }
  },
});

/**
 * svstat against hand-made service directories: a `supervise/ok` FIFO whose
 * reader the test holds (so "supervise is running") and status files written
 * with lib/status.ts. Every state is compared with the expected text always, and
 * byte for byte with Debian's svstat on the same directories in each test's
 * "[vs Debian]" twin (ignored without it).
 */
import { encodeStatus } from "../lib/status.ts";
import { fromUnix } from "../lib/tai64n.ts";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { compare, differential, type FakeStatus, tree, versus, versusTree } from "./fixtures.ts";
import { mkfifo, prog, run, waitFor } from "./util.ts";
import { decode, encode } from "../lib/bytes.ts";
import { jsonString, labelValue } from "../lib/svstat/format.ts";

versusTree(
  "svstat: every supervised state, suffixes in 0.76's order",
  ["svstat"],
  async (vs, t) => {
    const cases: [string, FakeStatus, string][] = [
      ["up", { pid: 1234, want: "u" }, "up (pid 1234) 0 seconds"],
      ["down", { pid: 0, want: "d" }, "down 0 seconds, normally up"],
      ["downfile", { pid: 0, want: "d", down: true }, "down 0 seconds"],
      ["upnd", { pid: 77, want: "u", down: true }, "up (pid 77) 0 seconds, normally down"],
      ["paused", { pid: 5, want: "u", paused: true }, "up (pid 5) 0 seconds, paused"],
      ["wantup", { pid: 0, want: "u" }, "down 0 seconds, normally up, want up"],
      ["wantupnd", { pid: 0, want: "u", down: true }, "down 0 seconds, want up"],
      ["wantdown", { pid: 9, want: "d" }, "up (pid 9) 0 seconds, want down"],
      [
        "all",
        { pid: 6980, want: "d", paused: true, down: true },
        "up (pid 6980) 0 seconds, normally down, paused, want down",
      ],
      ["once", { pid: 42, want: 0 }, "up (pid 42) 0 seconds"],
      ["oncedown", { pid: 0, want: 0 }, "down 0 seconds, normally up"],
      ["bigpid", { pid: 0xffffffff, want: "u" }, "up (pid 4294967295) 0 seconds"],
    ];
    for (const [name, st] of cases) await t.supervised(name, st);
    const r = await vs.run("svstat", cases.map(([n]) => n), { cwd: t.root });
    assertEquals(r.stdout, cases.map(([n, , want]) => `${n}: ${want}\n`).join(""));
    assertEquals([r.code, r.stderr], [0, ""]);
  },
);

Deno.test("svstat: seconds = now - stamp, nanoseconds ignored", async () => {
  await using t = await tree();
  const stamp = Math.floor(Date.now() / 1000) - 1000;
  await t.supervised("s", { pid: 3, want: "u", stampUnix: stamp });
  const before = Math.floor(Date.now() / 1000);
  const r = await run(prog("svstat"), ["s"], { cwd: t.root });
  const after = Math.floor(Date.now() / 1000);
  const m = /^s: up \(pid 3\) (\d+) seconds\n$/.exec(r.stdout);
  assert(m, r.stdout);
  const secs = Number(m[1]);
  assert(
    secs >= before - stamp && secs <= after - stamp,
    `${secs} not in [${before - stamp}, ${after - stamp}]`,
  );
});

versusTree(
  "svstat: missing, never supervised, not running, not a directory",
  ["svstat"],
  async (vs, t) => {
    await Deno.mkdir(t.path("new"));
    await Deno.mkdir(t.path("dead/supervise"), { recursive: true });
    mkfifo(t.path("dead/supervise/ok"));
    await Deno.writeTextFile(t.path("file"), "x");
    await Deno.mkdir(t.path("okfile/supervise"), { recursive: true });
    await Deno.writeTextFile(t.path("okfile/supervise/ok"), "");
    const r = await vs.run("svstat", [
      "nonexistent",
      "new",
      "dead",
      "file",
      "okfile",
      t.path("new"),
      "-x", // no options: every argument is a DIR
      "--",
    ], { cwd: t.root });
    assertEquals(
      r.stdout,
      "nonexistent: unable to chdir: file does not exist\n" +
        "new: unable to open supervise/ok: file does not exist\n" +
        "dead: supervise not running\n" +
        "file: unable to chdir: not a directory\n" +
        // a regular file named ok counts as a running supervise
        "okfile: unable to open supervise/status: file does not exist\n" +
        `${t.path("new")}: unable to open supervise/ok: file does not exist\n` +
        "-x: unable to chdir: file does not exist\n" +
        "--: unable to chdir: file does not exist\n",
    );
    assertEquals([r.code, r.stderr], [0, ""]);
  },
);

versus("svstat: no arguments prints nothing, exit 0", ["svstat"], async (vs) => {
  const r = await vs.run("svstat", [], { cwd: "/" });
  assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
});

versusTree("svstat: truncated, longer, and symlink-loop inputs", ["svstat"], async (vs, t) => {
  for (const n of ["empty", "short", "long", "loop"]) await t.supervised(n);
  const full = encodeStatus({
    stamp: fromUnix(4_000_000_000n),
    pid: 8,
    paused: false,
    want: "u",
  });
  await Deno.writeFile(t.path("empty/supervise/status"), new Uint8Array());
  await Deno.writeFile(t.path("short/supervise/status"), full.subarray(0, 17));
  // extra bytes (an encore 20-byte file) are ignored
  await Deno.writeFile(t.path("long/supervise/status"), new Uint8Array([...full, 1, 2]));
  await Deno.writeFile(t.path("loop/supervise/status"), full);
  await Deno.symlink("down", t.path("loop/down"));
  const r = await vs.run("svstat", ["empty", "short", "long", "loop"], { cwd: t.root });
  assertEquals(
    r.stdout,
    "empty: unable to read supervise/status: bad format\n" +
      "short: unable to read supervise/status: bad format\n" +
      "long: up (pid 8) 0 seconds\n" +
      "loop: unable to stat down: symbolic link loop\n",
  );
});

versusTree(
  "svstat: status replaced by a directory decodes stale data (0.76's EISDIR quirk)",
  ["svstat"],
  async (vs, t) => {
    await t.supervised("good", { pid: 4321, want: "d", paused: true });
    for (const n of ["isdir", "isdir2"]) {
      await t.supervised(n);
      await Deno.mkdir(t.path(`${n}/supervise/status`));
    }
    await Deno.writeFile(t.path("isdir2/down"), new Uint8Array());
    // first DIR: nothing read yet, so all zeros: stamp 0 -> a huge "seconds" (via a double)
    const before = BigInt(Math.floor(Date.now() / 1000));
    const r = await vs.run("svstat", ["isdir", "good", "isdir2"], { cwd: t.root });
    const after = BigInt(Math.floor(Date.now() / 1000));
    const lines = r.stdout.split("\n");
    const m = /^isdir: down (\d+) seconds, normally up$/.exec(lines[0]);
    assert(m, lines[0]);
    const tai = (unix: bigint) => BigInt(Number((1n << 62n) + 10n + unix));
    assert([tai(before), tai(after)].includes(BigInt(m[1])), m[1]);
    // later DIRs decode the previous DIR's bytes
    assertEquals(lines.slice(1), [
      "good: up (pid 4321) 0 seconds, paused, want down",
      "isdir2: up (pid 4321) 0 seconds, normally down, paused, want down",
      "",
    ]);
  },
);

versusTree(
  "svstat: a partial read still overwrites the start of the buffer",
  ["svstat"],
  async (vs, t) => {
    await t.supervised("a", { pid: 0x01020304, want: "u" });
    await t.supervised("b");
    await t.supervised("c");
    // 14 bytes: the stamp and the low half of the pid are replaced
    const b = encodeStatus({
      stamp: fromUnix(4_000_000_001n),
      pid: 0x0000ffff,
      paused: false,
      want: "d",
    });
    await Deno.writeFile(t.path("b/supervise/status"), b.subarray(0, 14));
    await Deno.mkdir(t.path("c/supervise/status"));
    const r = await vs.run("svstat", ["a", "b", "c"], { cwd: t.root });
    assertEquals(
      r.stdout,
      `a: up (pid ${0x01020304}) 0 seconds\n` +
        "b: unable to read supervise/status: bad format\n" +
        `c: up (pid ${0x0102ffff}) 0 seconds\n`,
    );
  },
);

differential(
  "svstat: access denied for a non-root account (setuidgid nobody)",
  ["setuidgid", "svstat"],
  async ({ setuidgid }) => {
    await using t = await tree();
    const via = [setuidgid, "nobody"];
    await Deno.chmod(t.root, 0o755);
    await Deno.chmod(prog("svstat").replace(/\/svstat$/, ""), 0o755);
    await Deno.mkdir(t.path("closed"), { mode: 0o700 });
    await t.supervised("okdenied", { pid: 1, want: "u" });
    await Deno.chmod(t.path("okdenied/supervise/ok"), 0o600);
    await Deno.chmod(t.path("okdenied/supervise"), 0o755);
    await t.supervised("stdenied", { pid: 1, want: "u" });
    await Deno.chmod(t.path("stdenied/supervise/ok"), 0o622);
    await Deno.chmod(t.path("stdenied/supervise/status"), 0o600);
    await Deno.chmod(t.path("stdenied/supervise"), 0o755);
    await Deno.mkdir(t.path("downdenied/sub"), { recursive: true, mode: 0o711 });
    await Deno.chmod(t.path("downdenied"), 0o600);
    const ours = await compare("svstat", ["closed", "okdenied", "stdenied", "downdenied/sub"], {
      cwd: t.root,
      via,
    });
    assertEquals(
      ours.stdout,
      "closed: unable to chdir: access denied\n" +
        "okdenied: unable to open supervise/ok: access denied\n" +
        "stdenied: unable to open supervise/status: access denied\n" +
        "downdenied/sub: unable to chdir: access denied\n",
    );

    // an unreadable current directory is fatal
    await Deno.chmod(t.path("closed"), 0o711);
    const o2 = await compare("svstat", ["x"], { cwd: t.path("closed"), via });
    assertEquals([o2.code, o2.stdout, o2.stderr], [
      111,
      "",
      "svstat: fatal: unable to open current directory: access denied\n",
    ]);
  },
);

versusTree("svstat: output is one line per DIR even for many DIRs", ["svstat"], async (vs, t) => {
  const names: string[] = [];
  for (let i = 0; i < 300; i++) {
    names.push(`s${i}`);
    await t.supervised(`s${i}`, { pid: 100 + i, want: "u" });
  }
  const r = await vs.run("svstat", names, { cwd: t.root });
  const lines = r.stdout.split("\n");
  assertEquals(lines.length, 301);
  lines.slice(0, 300).forEach((l, i) =>
    assertMatch(l, new RegExp(`^s${i}: up \\(pid ${100 + i}\\) 0 seconds$`))
  );
});

versusTree(
  "svstat: stdout without a reader: killed by SIGPIPE like 0.76",
  ["svstat"],
  async (vs, t) => {
    // fd 4 is a FIFO whose only reader (fd 3) is closed before svstat writes
    const r = await vs.same("svstat", async (svstat) => {
      const body = `rm -f f; mkfifo f; exec 3<>f; exec 4>f; exec 3<&-; ` +
        `"$0" missing >&4; echo $?; "$0" >&4; echo $?`;
      const r = await run("sh", ["-c", body, svstat], { cwd: t.root });
      return [r.code, r.stdout, r.stderr];
    });
    assertEquals(r, [0, "141\n0\n", ""]);
  },
);

// ------------------------------------------------------------------ svstat -j / -m

const HIST =
  '{"version":1,"since":1700000000.5,"starts":4,"last_exit":{"code":2,"signal":null,"time":1700000100.25},"ready":null}\n';

/** The JSON line svstat -j prints for a fake supervised directory (stamp 4000000000). */
function jline(dir: string, f: Record<string, unknown>): string {
  const o = {
    dir,
    supervise: true,
    state: "up",
    pid: null,
    seconds: 0,
    since: 4_000_000_000,
    normally: "up",
    want: "up",
    paused: false,
    ready: null,
    last_exit: null,
    starts: null,
    ...f,
  };
  return JSON.stringify(o) + "\n";
}

Deno.test("svstat -j: one JSON line per DIR in argument order, every state and error", async () => {
  await using t = await tree();
  await t.supervised("up", { pid: 1234, want: "u" });
  await t.supervised("downnd", { pid: 0, want: "u", down: true });
  await t.supervised("paused", { pid: 5, want: "d", paused: true });
  await t.supervised("once", { pid: 0, want: 0 });
  await Deno.writeTextFile(t.path("up/supervise/history"), HIST);
  await Deno.mkdir(t.path("dead/supervise"), { recursive: true });
  mkfifo(t.path("dead/supervise/ok"));
  await Deno.mkdir(t.path("new"));
  await t.supervised("short");
  await Deno.writeFile(t.path("short/supervise/status"), new Uint8Array(17));
  const dirs = ["up", "downnd", "paused", "once", "dead", "new", "missing", "short"];
  const r = await run(prog("svstat"), ["-j", ...dirs], { cwd: t.root });
  const lines = r.stdout.split("\n");
  // last_exit.seconds depends on the clock: checked apart
  const e = JSON.parse(lines[0]).last_exit;
  assert(e.seconds >= Math.floor(Date.now() / 1000 - 1700000100.25) - 2, lines[0]);
  assertEquals(
    r.stdout,
    jline("up", {
      pid: 1234,
      last_exit: { code: 2, signal: null, seconds: e.seconds, time: 1700000100.25 },
      starts: 4,
    }) +
      jline("downnd", { state: "down", normally: "down" }) +
      jline("paused", { pid: 5, want: "down", paused: true }) +
      jline("once", { state: "down", want: null }) +
      jline("dead", {
        supervise: false,
        state: null,
        seconds: null,
        since: null,
        want: null,
        paused: null,
      }) +
      '{"dir":"new","error":"unable to open supervise/ok: file does not exist"}\n' +
      '{"dir":"missing","error":"unable to chdir: file does not exist"}\n' +
      '{"dir":"short","error":"unable to read supervise/status: bad format"}\n',
  );
  // an unreadable DIR: the exit code says so
  assertEquals([r.code, r.stderr], [111, ""]);
  const ok = await run(prog("svstat"), ["-j", "up", "dead"], { cwd: t.root });
  assertEquals([ok.code, ok.stdout.split("\n").length], [0, 3]);
  const none = await run(prog("svstat"), ["-j"], { cwd: t.root });
  assertEquals([none.code, none.stdout, none.stderr], [0, "", ""]);
});

Deno.test("svstat -j: missing, truncated, junk history files give null fields, no error", async () => {
  await using t = await tree();
  const junk: [string, string | Uint8Array | null][] = [
    ["none", null],
    ["empty", ""],
    ["truncated", HIST.slice(0, 40)],
    ["junk", "\xff\x00garbage"],
    ["array", "[1,2,3]\n"],
    ["types", '{"since":"x","starts":-1,"last_exit":{"code":"a"},"ready":"no"}\n'],
    ["isdir", null],
  ];
  for (const [n, body] of junk) {
    await t.supervised(n, { pid: 7, want: "u" });
    if (typeof body === "string") await Deno.writeTextFile(t.path(`${n}/supervise/history`), body);
  }
  await Deno.mkdir(t.path("isdir/supervise/history"));
  const r = await run(prog("svstat"), ["-j", ...junk.map(([n]) => n)], { cwd: t.root });
  assertEquals(r.stdout, junk.map(([n]) => jline(n, { pid: 7 })).join(""));
  assertEquals([r.code, r.stderr], [0, ""]);
  // a FIFO there stalls nothing
  await t.supervised("fifo", { pid: 7, want: "u" });
  mkfifo(t.path("fifo/supervise/history"));
  const f = await run(prog("svstat"), ["-j", "fifo"], { cwd: t.root });
  assertEquals([f.code, f.stdout], [0, jline("fifo", { pid: 7 })]);
});

Deno.test("svstat -j and -m: names needing escaping (quote, backslash, newline, UTF-8)", async () => {
  await using t = await tree();
  const names = ['a"b', "a\\b", "a\nb", "é", "a\tb"];
  for (const n of names) await Deno.mkdir(t.path(n));
  const err = "unable to open supervise/ok: file does not exist";
  const j = await run(prog("svstat"), ["-j", ...names], { cwd: t.root });
  assertEquals(
    j.stdout,
    `{"dir":"a\\"b","error":"${err}"}\n` +
      `{"dir":"a\\\\b","error":"${err}"}\n` +
      `{"dir":"a\\nb","error":"${err}"}\n` +
      `{"dir":"é","error":"${err}"}\n` +
      `{"dir":"a\\tb","error":"${err}"}\n`,
  );
  // every line is JSON and gives the name back
  assertEquals(j.stdout.trimEnd().split("\n").map((l) => JSON.parse(l).dir), names);
  const m = await run(prog("svstat"), ["-m", ...names], { cwd: t.root });
  assertEquals(
    m.stdout.split("\n").filter((l) => l.startsWith("daemontools_status_error{")),
    [
      'daemontools_status_error{dir="a\\"b"} 1',
      'daemontools_status_error{dir="a\\\\b"} 1',
      'daemontools_status_error{dir="a\\nb"} 1',
      'daemontools_status_error{dir="é"} 1',
      'daemontools_status_error{dir="a\tb"} 1',
    ],
  );
  assertEquals(m.code, 111);
});

Deno.test("svstat formats: a name's non-UTF-8 byte is \\udcXX in JSON, \\xHH in a label", () => {
  // names reach the formatters decoded losslessly (lib/bytes.ts): byte 0xff is U+DCFF
  const name = decode(new Uint8Array([0x61, 0xff, 0x22, 0x62, 0xf0, 0x9f, 0x98, 0x80]));
  assertEquals(jsonString(name), '"a\\udcff\\"b\u{1F600}"');
  assertEquals(JSON.parse(jsonString(name)), name);
  assertEquals(labelValue(name), 'a\\\\xff\\"b\u{1F600}');
  // the JSON text and the label are valid UTF-8 (the textfile collector rejects anything else)
  new TextDecoder("utf-8", { fatal: true }).decode(encode(jsonString(name)));
  new TextDecoder("utf-8", { fatal: true }).decode(encode(labelValue(name)));
  // control characters in JSON
  assertEquals(jsonString("\x00\x1f\b\f\r"), '"\\u0000\\u001f\\b\\f\\r"');
});

Deno.test("svstat -m: HELP and TYPE once per metric, one dir label, counters end in _total", async () => {
  await using t = await tree();
  await t.supervised("web", { pid: 1234, want: "u" });
  await Deno.writeTextFile(t.path("web/supervise/history"), HIST);
  await t.supervised("db", { pid: 0, want: "d", down: true });
  await Deno.mkdir(t.path("dead/supervise"), { recursive: true });
  mkfifo(t.path("dead/supervise/ok"));
  const r = await run(prog("svstat"), ["-m", "web", "db", "dead"], { cwd: t.root });
  assertEquals([r.code, r.stderr], [0, ""]);
  // each metric: its type, HELP text and samples for web, db, dead in order (fewer: no sample)
  const G = "gauge";
  const metrics: [string, string, string, number[]][] = [
    ["status_error", G, "1 when svstat could not read the directory.", [0, 0, 0]],
    ["supervised", G, "1 when a supervisor runs for the directory.", [1, 1, 0]],
    ["up", G, "1 when ./run is up.", [1, 0]],
    ["pid", G, "pid of ./run (0 when down).", [1234, 0]],
    ["state_since_timestamp_seconds", G, "Unix time ./run last started or exited.", [4e9, 4e9]],
    ["normally_up", G, "1 when the directory has no down file.", [1, 0, 1]],
    ["want_up", G, "1 when the supervisor wants ./run up.", [1, 0]],
    ["want_down", G, "1 when the supervisor wants ./run down.", [0, 1]],
    ["paused", G, "1 when ./run is paused (svc -p).", [0, 0]],
    ["ready", G, "1 when ./run reported readiness.", []],
    ["starts_total", "counter", "Starts of ./run since the supervisor began.", [4]],
    [
      "starts_since_timestamp_seconds",
      G,
      "Unix time the supervisor began counting starts.",
      [1700000000.5],
    ],
    ["last_exit_code", G, "Exit code of the last exit of ./run.", [2]],
    ["last_exit_signal", G, "Signal that ended the last run of ./run.", []],
    ["last_exit_timestamp_seconds", G, "Unix time of the last exit of ./run.", [1700000100.25]],
  ];
  const dirs = ["web", "db", "dead"];
  assertEquals(
    r.stdout,
    metrics.map(([name, type, help, values]) =>
      `# HELP daemontools_${name} ${help}\n# TYPE daemontools_${name} ${type}\n` +
      values.map((v, i) => `daemontools_${name}{dir="${dirs[i]}"} ${v}\n`).join("")
    ).join(""),
  );
});

Deno.test("svstat -j and plain svstat: 1000 directories in one call, in order", async () => {
  await using t = await tree();
  const names: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const n = `s${i}`;
    names.push(n);
    await Deno.mkdir(t.path(`${n}/supervise`), { recursive: true });
    mkfifo(t.path(`${n}/supervise/ok`));
  }
  const j = await run(prog("svstat"), ["-j", ...names], { cwd: t.root });
  assertEquals([j.code, j.stderr], [0, ""]);
  const lines = j.stdout.trimEnd().split("\n");
  assertEquals(lines.map((l) => JSON.parse(l).dir), names);
  assert(lines.every((l) => JSON.parse(l).supervise === false));
  const m = await run(prog("svstat"), ["-m", ...names], { cwd: t.root });
  assertEquals(
    m.stdout.split("\n").filter((l) => l.startsWith("daemontools_supervised{")).length,
    1000,
  );
  const p = await run(prog("svstat"), names, { cwd: t.root });
  assertEquals(p.stdout, names.map((n) => `${n}: supervise not running\n`).join(""));
});

versusTree(
  "svstat: -j and -m only as the first argument; -- and ./-j name directories as in 0.76",
  ["svstat"],
  async (vs, t) => {
    await t.supervised("-j", { pid: 12, want: "u" });
    await t.supervised("-m", { pid: 0, want: "d" });
    await t.supervised("--", { pid: 3, want: "u", down: true });
    for (
      const args of [
        ["--", "-j"],
        ["./-j", "-m"],
        ["--", "-m", "--"],
        ["x", "-j"],
        ["-jm", "-j"],
        ["-J"],
        ["-mj"],
      ]
    ) {
      const r = await vs.run("svstat", args, { cwd: t.root });
      assertEquals([r.code, r.stderr], [0, ""]);
      assert(!r.stdout.includes("{") && !r.stdout.includes("# HELP"), r.stdout);
    }
    const r = await vs.run("svstat", ["--", "-j", "./-m"], { cwd: t.root });
    assertEquals(
      r.stdout,
      "--: up (pid 3) 0 seconds, normally down\n" +
        "-j: up (pid 12) 0 seconds\n" +
        "./-m: down 0 seconds, normally up\n",
    );
    if (vs.debian) return;
    // ours only: after -j, every argument is a DIR (even -j, -m and --)
    const j = await run(prog("svstat"), ["-j", "-j", "-m", "--"], { cwd: t.root });
    assertEquals(
      j.stdout,
      [
        jline("-j", { pid: 12 }),
        jline("-m", { state: "down", want: "down" }),
        jline("--", { pid: 3, normally: "down" }),
      ].join(""),
    );
  },
);

differential(
  "svstat -j: a directory under Debian's supervise (no history file): null history fields",
  ["supervise"],
  async ({ supervise }) => {
    await using t = await tree();
    const dir = await t.service("svc");
    t.spawn(supervise, ["svc"]);
    const pid = await waitFor("Debian's supervise up", () => {
      try {
        const b = Deno.readFileSync(`${dir}/supervise/status`);
        const p = new DataView(b.buffer).getUint32(12, true);
        return b.length === 18 && p !== 0 ? p : undefined;
      } catch {
        return undefined;
      }
    });
    const r = await run(prog("svstat"), ["-j", "svc"], { cwd: t.root });
    const o = JSON.parse(r.stdout);
    assertEquals(
      [o.supervise, o.state, o.pid, o.last_exit, o.starts, o.ready, r.code],
      [true, "up", pid, null, null, null, 0],
    );
  },
);

Deno.test("svstat -j: our supervise's history: starts and the last exit code", async () => {
  await using t = await tree();
  await t.service("svc", {
    run: "#!/bin/sh\nif [ ! -e once ]; then : >once; sleep 1.1; exit 7; fi\nexec sleep 100000\n",
  });
  t.spawn(prog("supervise"), ["svc"]);
  const o = await waitFor("second start", async () => {
    const r = await run(prog("svstat"), ["-j", "svc"], { cwd: t.root });
    const o = r.stdout ? JSON.parse(r.stdout) : undefined;
    return o?.starts === 2 && o.state === "up" ? o : undefined;
  });
  assertEquals([o.last_exit.code, o.last_exit.signal], [7, null]);
});

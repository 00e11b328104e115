/**
 * lib/svscan/logrun.ts: which `log/run` texts svscan may host. Every accepted text is also run
 * by the real /bin/sh with stand-in programs on PATH, which must receive exactly the argv the
 * grammar predicts (so the grammar never claims more than sh does).
 */
import { assert, assertEquals } from "./assert.ts";
import { encode } from "../lib/bytes.ts";
import {
  hostable,
  type LogRun,
  parseLogRun,
  resolve,
  systemResolver,
} from "../lib/svscan/logrun.ts";
import { debian, prog, run } from "./util.ts";
import { tree } from "./fixtures.ts";

const SH = "#!/bin/sh\n";

/** Texts that must be hosted, and what they run. */
const GOOD: [string, Partial<LogRun>][] = [
  [SH + "exec multilog t ./main\n", { multilogPath: "multilog", args: ["t", "./main"] }],
  [SH + "exec multilog t ./main", { args: ["t", "./main"] }], // no final newline
  ["#!/bin/sh -e\nexec multilog t ./main\n", { args: ["t", "./main"] }],
  ["#! /bin/sh\nexec multilog\n", { args: [] }],
  ["#!/bin/sh  \t\nexec multilog ./main\n", { args: ["./main"] }],
  [SH + "exec 2>&1\nexec multilog t ./main\n", { stderrToStdout: true, args: ["t", "./main"] }],
  [
    SH +
    "# a logger\n\n   \nexec 2>&1 # stderr too\n\t# indented\nexec multilog t ./main\n\n# end\n",
    { stderrToStdout: true, args: ["t", "./main"] },
  ],
  [
    SH + "exec setuidgid log multilog t s999999 n20 ./main\n",
    { user: "log", setuidgidPath: "setuidgid", args: ["t", "s999999", "n20", "./main"] },
  ],
  [
    SH + "exec setuidgid log envdir ./env multilog t ./main\n",
    { user: "log", envdir: "./env", envdirPath: "envdir", args: ["t", "./main"] },
  ],
  [SH + "exec envdir ./env multilog t ./main\n", { envdir: "./env", user: undefined }],
  [
    SH + "exec /usr/local/bin/setuidgid log /usr/local/bin/multilog t ./main\n",
    { setuidgidPath: "/usr/local/bin/setuidgid", multilogPath: "/usr/local/bin/multilog" },
  ],
  [
    SH + "exec multilog t '-*' '+*error*' ./main e\n",
    { args: ["t", "-*", "+*error*", "./main", "e"] },
  ],
  [SH + `exec multilog t "-* *" ./main\n`, { args: ["t", "-* *", "./main"] }],
  [SH + "exec multilog t '$HOME' ./main\n", { args: ["t", "$HOME", "./main"] }],
  [SH + `exec multilog t 'a'"b"c ./main\n`, { args: ["t", "abc", "./main"] }],
  [SH + "exec multilog t ''\n", { args: ["t", ""] }],
  [SH + "exec multilog t ./main # comment\n", { args: ["t", "./main"] }],
  [SH + "exec multilog t ./a#b\n", { args: ["t", "./a#b"] }],
  [SH + "exec\tmultilog\tt\t./main\t\n", { args: ["t", "./main"] }],
  [SH + "exec multilog t '!gzip -c' ./main\n", { args: ["t", "!gzip -c", "./main"] }],
  [SH + "exec multilog t =./last ./a~b ./main\n", { args: ["t", "=./last", "./a~b", "./main"] }],
  [SH + "exec multilog t ./m\xe9\n", { args: ["t", "./m\xe9"] }],
];

/** Texts that must not be hosted (a reason is given). */
const BAD: string[] = [
  "exec multilog t ./main\n", // no shebang
  "#!/bin/bash\nexec multilog t ./main\n",
  "#!/bin/sh -x\nexec multilog t ./main\n",
  "#!/bin/sh -e -u\nexec multilog t ./main\n",
  "#!/usr/bin/env sh\nexec multilog t ./main\n",
  SH,
  SH + "# only comments\n",
  SH + "exec 2>&1\n",
  SH + "exec multilog $ARGS\n",
  SH + "exec multilog t ${DIR}\n",
  SH + 'exec multilog t "$DIR"\n',
  SH + "exec multilog t `cat dir`\n",
  SH + 'exec multilog t "`cat dir`"\n',
  SH + 'exec multilog t "a\\"b"\n',
  SH + "exec multilog t ./ma*\n",
  SH + "exec multilog t ./ma?n\n",
  SH + "exec multilog t ./[m]ain\n",
  SH + "exec multilog t ./{a,b}\n",
  SH + "exec multilog t ~/main\n",
  SH + "exec multilog t ./main\\ x\n",
  SH + "exec multilog t ./main \\\n  ./other\n",
  SH + "exec multilog t ./main < /dev/null\n",
  SH + "exec multilog t ./main 2>&1\n",
  SH + "exec multilog t ./main >out\n",
  SH + "exec multilog t ./main; echo done\n",
  SH + "exec multilog t ./main && true\n",
  SH + "exec multilog t ./main &\n",
  SH + "cat | exec multilog t ./main\n",
  SH + "exec multilog t ./main | cat\n",
  SH + "exec multilog t (./main)\n",
  SH + "exec multilog t 'unterminated\n",
  SH + 'exec multilog t "unterminated\n',
  SH + "multilog t ./main\n", // not exec: sh stays around
  SH + "echo starting\nexec multilog t ./main\n",
  SH + "umask 077\nexec multilog t ./main\n",
  SH + "cd /tmp\nexec multilog t ./main\n",
  SH + "PATH=/opt/bin\nexec multilog t ./main\n",
  SH + "exec PATH=/opt/bin multilog t ./main\n",
  SH + "exec multilog t ./main\necho never\n",
  SH + "exec multilog t ./main\nexec multilog t ./other\n",
  SH + "exec multilog t ./main\nexec 2>&1\n",
  SH + "exec /usr/bin/tai64n\n",
  SH + "exec ./multilog t ./main\n",
  SH + "exec bin/multilog t ./main\n",
  SH + "exec 'multilog' t ./main\n",
  SH + "'exec' multilog t ./main\n",
  SH + "exec -a x multilog t ./main\n",
  SH + "exec setuidgid\n",
  SH + "exec setuidgid log\n",
  SH + "exec setuidgid log softlimit -m 1000 multilog t ./main\n",
  SH + "exec envdir ./env setuidgid log multilog t ./main\n", // order: setuidgid first
  SH + "exec multilog t ./main\r\n",
  SH + "exec multilog t ./main\0\n",
  SH + "exec 1>&2\nexec multilog t ./main\n",
  SH + "exec 2>&1 multilog t ./main\n",
  SH + "exec 2>/dev/null\nexec multilog t ./main\n",
  SH + "exec multilog t ./main\n" + "#".repeat(70000) + "\n",
];

Deno.test("logrun: hostable texts and what they run", () => {
  for (const [text, want] of GOOD) {
    const p = parseLogRun(encode(text));
    assert(p.ok, `${JSON.stringify(text)}: ${!p.ok && p.reason}`);
    for (const [k, v] of Object.entries(want)) {
      assertEquals(p.run[k as keyof LogRun], v, `${JSON.stringify(text)}: ${k}`);
    }
  }
});

Deno.test("logrun: texts that run as a process, each with a reason", () => {
  for (const text of BAD) {
    const p = parseLogRun(encode(text));
    assert(!p.ok, `${JSON.stringify(text)} must not be hosted`);
    assert(p.reason.length > 0);
  }
});

Deno.test("logrun: a non-UTF-8 argument comes through as the same bytes", () => {
  const text = new Uint8Array([...encode(SH + "exec multilog t ./m"), 0xff, 0x80, 10]);
  const p = parseLogRun(text);
  assert(p.ok);
  assertEquals(encode(p.run.args[1]), new Uint8Array([46, 47, 109, 0xff, 0x80]));
});

Deno.test("logrun: the real /bin/sh gives the stand-ins exactly the predicted argv", async () => {
  await using t = await tree();
  const fake = t.path("fakebin");
  await Deno.mkdir(fake);
  // each stand-in records its argv, NUL-separated, and stops (no exec of the rest)
  for (const name of ["multilog", "setuidgid", "envdir"]) {
    await Deno.writeTextFile(
      `${fake}/${name}`,
      `#!/bin/sh\nprintf '%s\\0' "${name}" "$@" > "$OUT"\n`,
      { mode: 0o755 },
    );
  }
  for (const [i, [text]] of GOOD.entries()) {
    if (text.includes("/usr/local/bin")) continue; // absolute stand-ins would need root
    const p = parseLogRun(encode(text));
    assert(p.ok);
    const want = [
      ...(p.run.user !== undefined ? ["setuidgid", p.run.user] : []),
      ...(p.run.envdir !== undefined ? ["envdir", p.run.envdir] : []),
      "multilog",
      ...p.run.args,
    ];
    const file = t.path(`run${i}`);
    await Deno.writeFile(file, encode(text), { mode: 0o755 });
    const out = t.path(`out${i}`);
    const r = await run(file, [], { env: { PATH: fake, OUT: out }, cwd: t.root });
    assertEquals(r.code, 0, `${JSON.stringify(text)}: ${r.stderr}`);
    const got = Deno.readFileSync(out);
    const parts: string[] = [];
    let s = 0;
    for (let k = 0; k < got.length; k++) {
      if (got[k] === 0) {
        parts.push(new TextDecoder("latin1").decode(got.subarray(s, k)));
        s = k + 1;
      }
    }
    const latin = (x: string) => new TextDecoder("latin1").decode(encode(x));
    assertEquals(parts, want.map(latin), JSON.stringify(text));
  }
});

// ---- resolution ---------------------------------------------------------------------------

const dec = new TextDecoder();
function fakeFs(files: string[], ours: string[]) {
  return {
    executable: (p: Uint8Array) => files.includes(dec.decode(p)),
    isOurs: (p: Uint8Array) => ours.includes(dec.decode(p)),
  };
}

Deno.test("logrun: resolution through PATH, absolute paths, and only ours", () => {
  const fs = fakeFs(
    ["/usr/bin/multilog", "/opt/dt/multilog", "/opt/dt/setuidgid", "/usr/bin/setuidgid"],
    ["/opt/dt/multilog", "/opt/dt/setuidgid"],
  );
  const P = (s: string) => encode(s);
  const ok = (w: string, path: string | undefined, want: string) => {
    const r = resolve(w, path === undefined ? undefined : P(path), fs);
    assert(r.ok, `${w} in ${path}: ${!r.ok && r.reason}`);
    assertEquals(dec.decode(r.path), want);
  };
  const no = (w: string, path: string | undefined) => {
    const r = resolve(w, path === undefined ? undefined : P(path), fs);
    assert(!r.ok, `${w} in ${path} must not resolve to ours`);
  };
  ok("multilog", "/opt/dt:/usr/bin", "/opt/dt/multilog");
  ok("multilog", "/nowhere:/opt/dt", "/opt/dt/multilog");
  no("multilog", "/usr/bin:/opt/dt"); // Debian's comes first
  no("multilog", undefined); // default /bin:/usr/bin: Debian's
  no("multilog", "/nowhere");
  no("multilog", ":/opt/dt"); // empty element = the log service's directory
  no("multilog", "bin:/opt/dt");
  ok("multilog", "/nowhere:/opt/dt:bin", "/opt/dt/multilog"); // found before the relative one
  ok("/opt/dt/multilog", "/usr/bin", "/opt/dt/multilog");
  no("/usr/bin/multilog", "/opt/dt");
  no("/opt/none/multilog", "/opt/dt");

  const text = (s: string) => encode(SH + s + "\n");
  assert(hostable(text("exec setuidgid log multilog t ./main"), P("/opt/dt"), fs).ok);
  // setuidgid found first in /usr/bin: not ours, so the whole script runs as a process
  assert(!hostable(text("exec setuidgid log multilog t ./main"), P("/usr/bin:/opt/dt"), fs).ok);
  assert(!hostable(text("exec envdir e multilog t ./main"), P("/opt/dt"), fs).ok);
  assert(!hostable(text("exec multilog $X"), P("/opt/dt"), fs).ok);
});

Deno.test("logrun: the real file system: our program link, Debian's multilog", async () => {
  await using t = await tree();
  const id = (p: string) => {
    const s = Deno.statSync(p);
    return `${s.dev}:${s.ino}`;
  };
  const me = id(prog("multilog"));
  const r = {
    executable: systemResolver.executable,
    isOurs: (p: Uint8Array) => {
      try {
        return id(dec.decode(p)) === me;
      } catch {
        return false;
      }
    },
  };
  const ourDir = prog("multilog").replace(/\/multilog$/, "");
  const x = resolve("multilog", encode(`${t.root}:${ourDir}`), r);
  assert(x.ok);
  assertEquals(dec.decode(x.path), prog("multilog"));
  // a non-executable file comes first: skipped, as sh skips it
  await Deno.writeTextFile(t.path("multilog"), "#!/bin/sh\n", { mode: 0o644 });
  assert(resolve("multilog", encode(`${t.root}:${ourDir}`), r).ok);
  const deb = debian("multilog");
  if (deb !== undefined) {
    assert(!resolve(deb, undefined, r).ok);
    assert(!resolve("multilog", encode("/usr/bin:" + ourDir), r).ok);
  }
});

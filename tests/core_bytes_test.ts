/**
 * Issue 14 in supervise, svscan's services, multilog and readproctitle: bytes in, bytes out
 * (environment, patterns, directory names, argument lengths) and no service that can stall
 * the others on the shared reactor. Each case is checked against the bytes Debian's 0.76
 * produces where it is installed (reported as ignored where it is not).
 *
 * Arguments that are not UTF-8 reach a program as strings decoded losslessly (lib/bytes.ts).
 * The `(logic)` tests hand them to the program's `main` that way in a child Deno process, so
 * they test this code alone; the `(launcher)` tests go through the built launcher, whose
 * decoding of argv is main.ts's.
 */
import { assertEquals } from "./assert.ts";
import { cleanup, Scan } from "./svscan_util.ts";
import { alive, debian, prog, scratch, statusPid, waitFor } from "./util.ts";

const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);

// ---------------------------------------------------------------- item 1: no stall

/** The tree of issue 14 item 1: `good` and `zero` (whose control is /dev/zero). */
async function stallTree(): Promise<string> {
  const dir = await scratch("dt-stall-");
  for (const n of ["good", "zero"]) {
    await Deno.mkdir(`${dir}/${n}/supervise`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${n}/run`, "#!/bin/sh\nexec sleep 1000\n");
    await Deno.chmod(`${dir}/${n}/run`, 0o755);
  }
  await Deno.symlink("/dev/zero", `${dir}/zero/supervise/control`);
  return dir;
}

/** Kill good's child and wait until the service runs a new one. */
async function restartsGood(dir: string): Promise<void> {
  const up = (not: number) => () => {
    const p = statusPid(`${dir}/good`);
    return p && p !== not && alive(p) ? p : 0;
  };
  const first = await waitFor("good up", up(0));
  await waitFor("zero up", () => alive(statusPid(`${dir}/zero`)));
  Deno.kill(first, "SIGKILL");
  await waitFor("good restarted", up(first), 10_000);
}

Deno.test("14.1: a control that never drains (/dev/zero) does not stall svscan's other services", async () => {
  const dir = await stallTree();
  const scan = new Scan(".", { cwd: dir });
  try {
    await restartsGood(dir);
    const st = await scan.stop("SIGTERM", 10_000);
    assertEquals([st.code, st.signal], [0, null]); // TERM handled, not SIGKILL'ed
  } finally {
    await cleanup(dir, scan);
  }
});

Deno.test({
  name: "14.1: Debian's svscan with the same tree restarts good (reference)",
  ignore: !debian("svscan"),
  fn: async () => {
    const dir = await stallTree();
    const scan = new Scan(".", { cwd: dir, cmd: debian("svscan"), path: "/usr/bin:/bin" });
    try {
      await restartsGood(dir);
    } finally {
      await cleanup(dir, scan);
    }
  },
});

// ---------------------------------------------------------------- item 3: environment

/** What `./run` (= /usr/bin/env) prints first under `supervise` started in `env -i ...`. */
async function envUnder(supervise: string): Promise<Uint8Array> {
  const dir = await scratch("dt-env-");
  try {
    await Deno.mkdir(`${dir}/e2`);
    await Deno.symlink("/usr/bin/env", `${dir}/e2/run`); // no shell in between to filter
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        `exec env -i PATH=/bin "X=$(printf 'v\\377')" "$(printf 'Y\\376')=1" W=ok "$0" e2 >out`,
        supervise,
      ],
      cwd: dir,
      stdin: "null",
    }).spawn();
    try {
      const out = await waitFor("env output", () => {
        const b = Deno.readFileSync(`${dir}/out`);
        const end = latin1(b).indexOf("W=ok\n");
        return end < 0 ? undefined : b.subarray(0, end + 5);
      });
      return out;
    } finally {
      child.kill("SIGTERM"); // supervise dies of it (0.76); ./run has exited by itself
      await child.status;
    }
  } finally {
    await cleanup(dir);
  }
}

const ENV = bytes("PATH=/bin\nX=v\xff\nY\xfe=1\nW=ok\n");

Deno.test("14.3: supervise hands ./run every environment variable, bytes and order unchanged", async () => {
  assertEquals(latin1(await envUnder(prog("supervise"))), latin1(ENV));
});

Deno.test({
  name: "14.3: Debian's supervise gives the same environment bytes",
  ignore: !debian("supervise"),
  fn: async () => {
    assertEquals(latin1(await envUnder(debian("supervise")!)), latin1(ENV));
  },
});

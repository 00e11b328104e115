/**
 * svok: exit codes and messages for a running supervise (a held FIFO
 * reader), none, a missing or unusable DIR; compared with Debian's svok when
 * installed, and with the expected values always.
 */
import { cstr, libc } from "../lib/libc.ts";
import { assertEquals } from "./assert.ts";
import { debian, haveDebian, prog, type Ran, run, scratch } from "./util.ts";

/** Run our svok, then Debian's when installed; same code, stdout and stderr. */
async function svok(cwd: string, args: string[]): Promise<Ran> {
  const ours = await run(prog("svok"), args, { cwd });
  const theirs = debian("svok");
  if (theirs) {
    const d = await run(theirs, args, { cwd });
    assertEquals(
      [ours.code, ours.stdout, ours.stderr],
      [d.code, d.stdout, d.stderr],
      `svok ${args.join(" ")} (ours vs Debian)`,
    );
  }
  return ours;
}

function mkfifo(path: string): void {
  if (libc().mkfifo(cstr(path), 0o600) !== 0) throw new Error(`mkfifo ${path} failed`);
}

Deno.test("svok: usage without DIR", async () => {
  const r = await svok("/", []);
  assertEquals([r.code, r.stdout, r.stderr], [100, "", "svok: usage: svok dir\n"]);
});

Deno.test("svok: running 0, not running 100, never supervised 100, errors 111", async () => {
  const root = await scratch();
  await Deno.mkdir(`${root}/up/supervise`, { recursive: true });
  mkfifo(`${root}/up/supervise/ok`);
  const held = Deno.openSync(`${root}/up/supervise/ok`, { read: true, write: true });
  try {
    await Deno.mkdir(`${root}/dead/supervise`, { recursive: true });
    mkfifo(`${root}/dead/supervise/ok`);
    await Deno.mkdir(`${root}/new`);
    await Deno.writeTextFile(`${root}/file`, "");
    await Deno.mkdir(`${root}/okdir/supervise/ok`, { recursive: true });
    const cases: [string[], number, string][] = [
      [["up"], 0, ""],
      [["up", "extra", "args"], 0, ""], // ignored
      [[`${root}/up`], 0, ""],
      [["dead"], 100, ""],
      [["new"], 100, ""],
      [["dead", "up"], 100, ""], // only the first DIR counts
      [["missing"], 111, "svok: fatal: unable to chdir to missing: file does not exist\n"],
      [["-x"], 111, "svok: fatal: unable to chdir to -x: file does not exist\n"], // no options
      [["file"], 111, "svok: fatal: unable to chdir to file: not a directory\n"],
      [["okdir"], 111, "svok: fatal: unable to open okdir/supervise/ok: is a directory\n"],
    ];
    for (const [args, code, err] of cases) {
      const r = await svok(root, args);
      assertEquals([r.code, r.stdout, r.stderr], [code, "", err], args.join(" "));
    }
  } finally {
    held.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "svok: access denied for a non-root account (setuidgid nobody)",
  ignore: !haveDebian,
  fn: async () => {
    const root = await scratch();
    await Deno.mkdir(`${root}/up/supervise`, { recursive: true });
    mkfifo(`${root}/up/supervise/ok`);
    const held = Deno.openSync(`${root}/up/supervise/ok`, { read: true, write: true });
    try {
      await Deno.chmod(root, 0o755);
      await Deno.chmod(prog("svok").replace(/\/svok$/, ""), 0o755);
      await Deno.mkdir(`${root}/closed`, { mode: 0o700 });
      const cases: [string, number, string][] = [
        ["up", 111, "svok: fatal: unable to open up/supervise/ok: access denied\n"],
        ["closed", 111, "svok: fatal: unable to chdir to closed: access denied\n"],
      ];
      for (const [dir, code, err] of cases) {
        const ours = await run(debian("setuidgid")!, ["nobody", prog("svok"), dir], { cwd: root });
        const d = await run(debian("setuidgid")!, ["nobody", debian("svok")!, dir], { cwd: root });
        assertEquals([ours.code, ours.stdout, ours.stderr], [code, "", err]);
        assertEquals([ours.code, ours.stdout, ours.stderr], [d.code, d.stdout, d.stderr]);
      }
    } finally {
      held.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});

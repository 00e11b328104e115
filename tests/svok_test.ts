/**
 * svok: exit codes and messages for a running supervise (a held FIFO reader), none, a missing
 * or unusable DIR; compared with the expected values always, and with Debian's svok in each
 * test's "[vs Debian]" twin (ignored without it).
 */
import { assertEquals } from "./assert.ts";
import { compare, differential, tree, versus, versusTree } from "./fixtures.ts";
import { mkfifo, prog } from "./util.ts";

versus("svok: usage without DIR", ["svok"], async (vs) => {
  const r = await vs.run("svok", [], { cwd: "/" });
  assertEquals([r.code, r.stdout, r.stderr], [100, "", "svok: usage: svok dir\n"]);
});

versusTree(
  "svok: running 0, not running 100, never supervised 100, errors 111",
  ["svok"],
  async (vs, t) => {
    await t.supervised("up");
    await Deno.mkdir(t.path("dead/supervise"), { recursive: true });
    mkfifo(t.path("dead/supervise/ok"));
    await Deno.mkdir(t.path("new"));
    await Deno.writeTextFile(t.path("file"), "");
    await Deno.mkdir(t.path("okdir/supervise/ok"), { recursive: true });
    const cases: [string[], number, string][] = [
      [["up"], 0, ""],
      [["up", "extra", "args"], 0, ""], // ignored
      [[t.path("up")], 0, ""],
      [["dead"], 100, ""],
      [["new"], 100, ""],
      [["dead", "up"], 100, ""], // only the first DIR counts
      [["missing"], 111, "svok: fatal: unable to chdir to missing: file does not exist\n"],
      [["-x"], 111, "svok: fatal: unable to chdir to -x: file does not exist\n"], // no options
      [["file"], 111, "svok: fatal: unable to chdir to file: not a directory\n"],
      [["okdir"], 111, "svok: fatal: unable to open okdir/supervise/ok: is a directory\n"],
    ];
    for (const [args, code, err] of cases) {
      const r = await vs.run("svok", args, { cwd: t.root });
      assertEquals([r.code, r.stdout, r.stderr], [code, "", err], args.join(" "));
    }
  },
);

differential(
  "svok: access denied for a non-root account (setuidgid nobody)",
  ["setuidgid", "svok"],
  async ({ setuidgid }) => {
    await using t = await tree();
    await t.supervised("up");
    await Deno.chmod(t.root, 0o755);
    await Deno.chmod(prog("svok").replace(/\/svok$/, ""), 0o755);
    await Deno.mkdir(t.path("closed"), { mode: 0o700 });
    const cases: [string, number, string][] = [
      ["up", 111, "svok: fatal: unable to open up/supervise/ok: access denied\n"],
      ["closed", 111, "svok: fatal: unable to chdir to closed: access denied\n"],
    ];
    for (const [dir, code, err] of cases) {
      const r = await compare("svok", [dir], { cwd: t.root, via: [setuidgid, "nobody"] });
      assertEquals([r.code, r.stdout, r.stderr], [code, "", err]);
    }
  },
);

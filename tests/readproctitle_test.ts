/** readproctitle: argument checks, exit codes, and what `ps` (/proc/PID/cmdline) shows. */
import { assertEquals } from "./assert.ts";
import { versus } from "./fixtures.ts";
import { prog, run, shownTitle } from "./util.ts";

Deno.test("readproctitle: usage errors exit 100 silently", async () => {
  for (const args of [[], ["abcd"], ["x", "y", "1234"]]) {
    const r = await run(prog("readproctitle"), args, { stdin: "" });
    assertEquals([r.code, r.stdout, r.stderr], [100, "", ""], args.join(" "));
  }
});

Deno.test("readproctitle: EOF exits 0, prints nothing", async () => {
  const r = await run(prog("readproctitle"), ["a", "b", "abcde"], { stdin: "hello\n" });
  assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
});

/** The last argument as the kernel shows it, once it ends with `want`. */
async function shownTail(path: string, input: Uint8Array, dots: string, want: string) {
  const dec = new TextDecoder();
  return dec.decode(await shownTitle(path, input, dots, (t) => dec.decode(t).endsWith(want)));
}

versus(
  "readproctitle: ps shows the latest bytes, NULs dropped, first 3 kept as dots",
  ["readproctitle"],
  async (vs) => {
    const dots = ".".repeat(20);
    const input = new TextEncoder().encode("xyz\nwarn\0ing abc\n");
    const shown = await vs.same("readproctitle", (p) => shownTail(p, input, dots, "abc\n"));
    assertEquals(shown, "....xyz\nwarning abc\n");
    // overflow: only len(D)-3 most recent bytes, after the 3 kept dots
    const long = new TextEncoder().encode("0123456789abcdefghijklmnopqrstuvwxyz");
    const tail = await vs.same("readproctitle", (p) => shownTail(p, long, dots, "xyz"));
    assertEquals(tail, "...jklmnopqrstuvwxyz");
  },
);

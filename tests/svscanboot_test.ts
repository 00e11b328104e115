/**
 * svscanboot: stops leftovers, then becomes ONE process, svscan, which shows its own and its
 * children's errors in its command line as `svscan 2>&1 | readproctitle service errors: ...`
 * would (issue 9, item 6). The title is compared byte for byte with what Debian's readproctitle
 * shows for the same bytes (reported as ignored when Debian's is not installed).
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  alive,
  debian,
  lastArg,
  mkfifo,
  processesUnder,
  processTree,
  prog,
  shownTitle,
  waitFor,
} from "./util.ts";
import { scanTest, service, waitUp } from "./svscan_util.ts";
import { cat } from "../lib/bytes.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const DOTS = ".".repeat(400);
const W = enc.encode("svscan: warning: unable to stat dangling: file does not exist\n");

function endsWith(b: Uint8Array, tail: Uint8Array): boolean {
  if (b.length < tail.length) return false;
  for (let i = 0; i < tail.length; i++) if (b[b.length - tail.length + i] !== tail[i]) return false;
  return true;
}

/** What Debian's readproctitle shows in `service errors: <400 dots>` after reading `input`. */
function debianTitle(input: Uint8Array, last: Uint8Array): Promise<Uint8Array> {
  // it reads a byte at a time: wait for the last bytes written to show
  return shownTitle(debian("readproctitle")!, input, DOTS, (t) => endsWith(t, last));
}

scanTest(
  {
    name: "svscanboot DIR: one process, svscan's title shows its and its children's errors " +
      "as Debian's readproctitle would",
    ignore: !debian("readproctitle"),
  },
  {},
  async ({ dir, start }) => {
    // the service writes to stderr (and stdout, a NUL among the bytes) once the FIFO ./go
    // gives it a line (till then its shell waits in open(2), with no child)
    const lines = [1, 2, 3, 4, 5, 6].map((i) => `up: line ${i} of what ./run writes to stderr\n`);
    const up = await service(
      dir,
      "up",
      "#!/bin/sh\nread x <go\n" +
        lines.map((l) => `printf '${l.replace("\n", "\\n")}' >&2\n`).join("") +
        "printf 'up: on stdout, a NUL\\000 dropped\\n'\nexec sleep 1000\n",
    );
    mkfifo(`${up}/go`);
    await Deno.symlink("nowhere", `${dir}/dangling`);
    const boot = start({ cmd: prog("svscanboot"), args: [dir] });
    const sleeper = await waitUp(up);

    // the command line: svscan's, ending in `svscan DIR service errors: D`
    const words = dec.decode(Deno.readFileSync(`/proc/${boot.pid}/cmdline`)).split("\0");
    assertEquals(words.slice(-6, -2), ["svscan", dir, "service", "errors:"]);
    assertEquals(lastArg(boot.pid)!.length, 400);
    // one Deno process: svscan's only descendant is the service
    await waitFor("only the service under svscan", () => {
      const d = processTree(boot.pid).slice(1); // its descendants
      return d.length === 1 && d[0] === sleeper;
    });
    assertMatch(Deno.readLinkSync(`/proc/${boot.pid}/exe`), /deno/);

    // svscan's own warning, shifted in after the dots (once per 5-second scan)
    const first = await waitFor("the warning in svscan's title", () => {
      const t = lastArg(boot.pid);
      return t && endsWith(t, W) ? t.slice() : undefined;
    });
    const n = dec.decode(first).split(dec.decode(W)).length - 1;
    assert(n >= 1);
    const onlyW = cat(...Array(n).fill(W));
    assertMatch(dec.decode(first), /^\.{3}\.+svscan: warning/);
    assertEquals(first, await debianTitle(onlyW, W));

    // the service's stderr and stdout, then the next scan's warning: the title holds the end
    // of an earlier warning, every line of the service, and the warning
    await Deno.writeTextFile(`${up}/go`, "go\n");
    const out = cat(...lines.map((l) => enc.encode(l)), "up: on stdout, a NUL\0 dropped\n");
    const shown = cat(...lines.map((l) => enc.encode(l)), "up: on stdout, a NUL dropped\n", W);
    assert(shown.length < 397 && shown.length + W.length > 397, "the lengths this test needs");
    const after = await waitFor("the service's lines and a warning in the title", () => {
      const t = lastArg(boot.pid);
      return t && endsWith(t, shown) ? t.slice() : undefined;
    }, 15_000);
    assertEquals(after, await debianTitle(cat(W, out, W), W));
    assertEquals(dec.decode(after.subarray(0, 3)), "...");

    // TERM: svscan stops the service, then exits 0
    const st = await boot.stop("SIGTERM");
    assertEquals(st.code, 0);
    assert(!alive(sleeper));
    assertEquals(processesUnder(dir), []);
    assertEquals(boot.out + boot.err, "");
  },
);

scanTest("svscanboot DIR: a service flooding stderr stalls neither svscan nor its warnings", {
  flood: "#!/bin/sh\nexec yes flood >&2\n",
  other: "#!/bin/sh\nexec sleep 1000\n",
}, async ({ dir, start, svc: { other } }) => {
  await Deno.symlink("nowhere", `${dir}/dangling`);
  const boot = start({ cmd: prog("svscanboot"), args: [dir] });
  const first = await waitUp(other);
  await waitFor("the flood in svscan's title", () => {
    const t = lastArg(boot.pid);
    return t && endsWith(t, enc.encode("flood\nflood\nflood\n"));
  });
  // HUP: a scan, whose warning svscan writes while the pipe is full (it is the pipe's only
  // reader: a write that waited for room would never end)
  for (let i = 0; i < 3; i++) {
    Deno.kill(boot.pid, "SIGHUP");
    await new Promise((r) => setTimeout(r, 50));
  }
  const svc = new Deno.Command(prog("svc"), { args: ["-t", other] }).outputSync();
  assertEquals(svc.code, 0);
  await waitUp(other, first);
  const st = await boot.stop("SIGTERM");
  assertEquals(st.code, 0);
  assertEquals(processesUnder(dir), []);
});

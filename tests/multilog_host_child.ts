/**
 * A stand-in host for tests/multilog_lossless_test.ts: one HostedMultilog on a Reactor, reading
 * the FIFO `Deno.args[0]` (opened as svscan opens a log pipe: read-only, non-blocking), the
 * log service directory `Deno.args[1]` (its staging file: `hosted-input` there), multilog's
 * arguments after. TERM stops the logger; the
 * process exits with its code. The test kills it with SIGKILL at random points.
 * @module
 */
import { O_CLOEXEC, O_DIRECTORY, O_NONBLOCK, O_RDONLY } from "../lib/libc.ts";
import { AT_FDCWD, NR, sysAt } from "../lib/sys.ts";
import { Reactor } from "../lib/reactor.ts";
import { HostedMultilog, openStaging } from "../lib/multilog/hosted.ts";

const [fifo, dir, ...args] = Deno.args;
const fd = sysAt(NR.openat, AT_FDCWD, fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
const dirfd = sysAt(NR.openat, AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
if (fd < 0 || dirfd < 0) Deno.exit(100);
// DT_LOSSLESS=0: the reader without staging (the test must then fail)
const staging = Deno.env.get("DT_LOSSLESS") === "0"
  ? undefined
  : openStaging(dirfd, "hosted-input");
if (staging !== undefined && staging < 0) Deno.exit(100);
const l = new HostedMultilog({
  reactor: new Reactor(),
  fd,
  args,
  dirfd,
  staging,
  stagingName: "hosted-input",
  // DT_ROUND=N: the staging file used from its start again after N bytes (kills land there)
  stagingRound: Number(Deno.env.get("DT_ROUND") ?? 0) || undefined,
  onExit: (code) => Deno.exit(code),
});
Deno.addSignalListener("SIGTERM", () => l.stop());
l.start();

/**
 * `supervise DIR`: start and watch `DIR/run` (daemontools 0.76, spec §1). One
 * {@linkcode Service} on the process-wide reactor; exits 0 after `x` once the child is gone.
 * Signals other than SIGCHLD are not handled: SIGTERM kills supervise (143) and leaves
 * `./run` running, as 0.76 does.
 * @module
 */
import { usage, writeErr } from "../lib/msg.ts";
import { Service, ServiceError } from "../lib/service.ts";

/** Entry point. */
export async function main(args: string[]): Promise<number> {
  if (args.length !== 1) usage("supervise", "supervise dir");
  const svc = new Service(args[0], { chdir: true });
  try {
    svc.start();
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
    writeErr(e.line);
    return e.code;
  }
  await svc.done;
  return 0;
}

/**
 * The benchmarks' build of our programs: scripts/build.sh into a fresh temp directory (the
 * launcher and one link per program, as `make build` makes them).
 * @module
 */

/** The repository root. */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Build into a new temp directory; returns it. */
export function build(): string {
  const dir = Deno.makeTempDirSync({ prefix: "dt-bench-bin-" });
  const out = new Deno.Command("sh", {
    args: [`${ROOT}/scripts/build.sh`, dir, ROOT],
    env: { DENO: Deno.execPath() },
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return dir;
}

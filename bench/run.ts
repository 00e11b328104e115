/**
 * `deno task bench`: run every benchmark in bench/ (one per area) in turn, each printing its
 * figures side by side with Debian's daemontools measured in the same run.
 * Usage: deno run -A bench/run.ts [AREA...]   (AREA = file name without .ts)
 * @module
 */
const here = new URL(".", import.meta.url).pathname;
const wanted = new Set(Deno.args);
const files = [...Deno.readDirSync(here)]
  .map((e) => e.name)
  .filter((n) => n.endsWith(".ts") && n !== "run.ts" && !n.startsWith("_"))
  .filter((n) => wanted.size === 0 || wanted.has(n.slice(0, -3)))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n## bench/${f}`);
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${here}${f}`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!r.success) {
    failed++;
    console.log(`bench/${f} failed (exit ${r.code})`);
  }
}
Deno.exit(failed ? 1 : 0);

/** tai64n and tai64nlocal: formats, partial lines, known vectors, Debian differential. */
import { assert, assertEquals } from "./assert.ts";
import { compare, differential, tree } from "./fixtures.ts";
import { prog, run } from "./util.ts";

const STAMPED = /^@[0-9a-f]{24} /;

Deno.test("tai64n: `@` + 24 hex + space on every line; partial last line kept as is", async () => {
  const before = Date.now() / 1000;
  const r = await run(prog("tai64n"), [], { stdin: "one\n\nthree" });
  const after = Date.now() / 1000;
  assertEquals(r.code, 0);
  const parts = r.stdout.split("\n");
  assertEquals(parts.length, 3);
  assertEquals(parts.map((p) => p.replace(STAMPED, "")), ["one", "", "three"]);
  for (const p of parts) {
    assert(STAMPED.test(p), p);
    // the label is TAI: 2^62 + 10 + unix seconds; nanoseconds below 10^9
    const sec = BigInt("0x" + p.slice(1, 17)) - (1n << 62n) - 10n;
    const nano = parseInt(p.slice(17, 25), 16);
    assert(Number(sec) >= Math.floor(before) && Number(sec) <= Math.ceil(after), p);
    assert(nano < 1e9);
  }
  assert(!r.stdout.endsWith("\n"));
});

Deno.test("tai64n: large input passes through unchanged apart from the stamps", async () => {
  let input = "";
  for (let i = 0; i < 20000; i++) input += `${i} ${"z".repeat(i % 300)}\n`;
  await using t = await tree();
  // stdin from a file: run() writes all of stdin before reading stdout
  Deno.writeTextFileSync(t.path("in"), input);
  const r = await run("sh", ["-c", 'exec "$0" < "$1"', prog("tai64n"), t.path("in")]);
  assertEquals(r.code, 0);
  assertEquals(r.stdout.replace(/^@[0-9a-f]{24} /gm, ""), input);
  // stamps never go backwards
  const stamps = r.stdout.match(/^@[0-9a-f]{24}/gm)!;
  assertEquals(stamps.length, 20000);
  for (let i = 1; i < stamps.length; i++) assert(stamps[i - 1] <= stamps[i]);
});

const VECTORS = "@4000000037c219bf2ef02e94 mark\n@400000000000000000000000 zero\nplain line\n" +
  "\n@40000000ffffffffffffffff nanos\n";

Deno.test("tai64nlocal: known conversions in UTC and US/Pacific", async () => {
  const utc = await run(prog("tai64nlocal"), [], { stdin: VECTORS, env: { TZ: "UTC" } });
  assertEquals(utc.code, 0);
  assertEquals(
    utc.stdout,
    "1999-08-24 04:04:05.787492500 mark\n1969-12-31 23:59:50.000000000 zero\nplain line\n\n" +
      "2106-02-07 06:28:05.4294967295 nanos\n",
  );
  const pac = await run(prog("tai64nlocal"), [], { stdin: VECTORS, env: { TZ: "US/Pacific" } });
  assert(pac.stdout.startsWith("1999-08-23 21:04:05.787492500 mark\n"), pac.stdout);
});

Deno.test("tai64nlocal: malformed stamps pass through; EOF inside a stamp drops it", async () => {
  const bad = "@4000 short\n@ bare\n@4000000037C219bf2ef02e94 upper\n" +
    "@4000000037c219bf2ef02e94ff too long\n";
  const r = await run(prog("tai64nlocal"), [], {
    stdin: bad + "ok\n@4000000037c2",
    env: { TZ: "UTC" },
  });
  assertEquals(r.code, 0);
  assertEquals(r.stdout, bad + "ok\n");
});

differential(
  "tai64n | tai64nlocal vs Debian: same output for well-formed stamps",
  ["tai64nlocal"],
  async () => {
    const stamped = await run(prog("tai64n"), [], { stdin: "a\nb b\n\nlast" });
    for (const tz of ["UTC", "US/Pacific", "Asia/Kolkata"]) {
      const input = stamped.stdout + "\n" + VECTORS;
      await compare("tai64nlocal", [], { stdin: input, env: { TZ: tz } });
    }
  },
);

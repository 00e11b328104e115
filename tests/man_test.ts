/**
 * Man pages (man/*.8, filled in by scripts/man.sh): every program has one; each renders with
 * `groff -ww` and `man -l` without a warning, carries the version from VERSION, and documents
 * every option letter its program accepts.
 *
 * The program list is the source's PROGRAMS (lib/programs.ts, else main.ts). The accepted
 * option letters are read from each program's source text (cmd/NAME.ts, and cmd/NAME/ or
 * lib/NAME/ if they exist): the option spec strings handed to getopt()/parseOptions() (a
 * literal, or a const of the same file) and the hand-parsed options compared as literals
 * (`=== "-s"`, `startsWith("-p")`, `case "-x":`). A table of letters known today guards the
 * reading itself: if a refactor hides a spec from it, the test fails instead of passing on
 * an empty set.
 */
import { assert, assertEquals } from "./assert.ts";
import { root, run, scratch } from "./util.ts";

const VERSION = Deno.readTextFileSync(`${root}/VERSION`).trim();

/** Pages that are not programs of the multi-call executable. */
const EXTRA_PAGES = ["daemontools", "update-service"];

/** Option letters each program accepts today: the reader must find at least these. */
const KNOWN: Record<string, string> = {
  svc: "udopchaitkx",
  softlimit: "acdflmoprst",
  setlock: "nNxX",
  setuidgid: "s",
  envdir: "p",
};

async function programs(): Promise<string[]> {
  for (const m of ["../lib/programs.ts", "../main.ts"]) {
    try {
      const mod = await import(new URL(m, import.meta.url).href);
      if (Array.isArray(mod.PROGRAMS)) return [...mod.PROGRAMS];
    } catch {
      // not there (any more): the next place
    }
  }
  throw new Error("PROGRAMS found neither in lib/programs.ts nor in main.ts");
}

const PROGRAMS = await programs();

/** Source files of program `name`. */
function sources(name: string): string[] {
  const files = [`${root}/cmd/${name}.ts`];
  for (const dir of [`${root}/cmd/${name}`, `${root}/lib/${name}`]) {
    try {
      for (const e of Deno.readDirSync(dir)) {
        if (e.isFile && e.name.endsWith(".ts")) files.push(`${dir}/${e.name}`);
      }
    } catch {
      // no such directory
    }
  }
  return files.filter((f) => {
    try {
      return Deno.statSync(f).isFile;
    } catch {
      return false;
    }
  });
}

/** Option letters program `name` accepts, read from its source text. */
function optionsOf(name: string): Set<string> {
  const letters = new Set<string>();
  for (const file of sources(name)) {
    const text = Deno.readTextFileSync(file);
    const consts = new Map<string, string>();
    for (const m of text.matchAll(/\bconst\s+([A-Za-z_]\w*)\s*=\s*"([^"\n]*)"/g)) {
      consts.set(m[1], m[2]);
    }
    for (const m of text.matchAll(/\b(?:getopt|parseOptions)\s*\(([^)]*)\)/g)) {
      // the spec is the last argument: getopt(args, SPEC), parseOptions(prog, args, SPEC)
      const arg = m[1].split(",").map((a) => a.trim()).filter((a) => a).at(-1) ?? "";
      const lit = arg.match(/^"([^"]*)"$/);
      const spec = lit ? lit[1] : consts.get(arg);
      if (spec === undefined || !/^[A-Za-z0-9:]+$/.test(spec)) continue;
      for (const c of spec) if (c !== ":") letters.add(c);
    }
    for (
      const m of text.matchAll(
        /(?:===?\s*"-([A-Za-z0-9])"|startsWith\(\s*"-([A-Za-z0-9])"\s*\)|case\s+"-([A-Za-z0-9])"\s*:)/g,
      )
    ) {
      letters.add(m[1] ?? m[2] ?? m[3]);
    }
  }
  return letters;
}

let filled: Promise<string> | undefined;
/** The pages with version and date filled in (scripts/man.sh), once per run. */
function pages(): Promise<string> {
  filled ??= (async () => {
    const out = await scratch("dt-man-");
    const r = await run("sh", [`${root}/scripts/man.sh`, out, root]);
    assertEquals(r.code, 0, r.stderr);
    globalThis.addEventListener("unload", () => Deno.removeSync(out, { recursive: true }));
    return out;
  })();
  return filled;
}

/** The page rendered as plain text (no escapes, no overstrike), dashes as ASCII. */
async function render(page: string): Promise<string> {
  const r = await run("groff", ["-man", "-Tutf8", "-P-cbou", page]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout.replace(/[\u2010\u2011\u2212]/g, "-");
}

/** Lines of section `title` (up to the next heading). */
function section(text: string, title: string): string[] {
  const lines = text.split("\n");
  const at = lines.indexOf(title);
  if (at < 0) return [];
  const end = lines.findIndex((l, i) => i > at && /^[A-Z][A-Z ]*$/.test(l));
  return lines.slice(at + 1, end < 0 ? undefined : end);
}

Deno.test("man: the option reader finds every option letter known today", () => {
  for (const [name, want] of Object.entries(KNOWN)) {
    if (!PROGRAMS.includes(name)) continue; // a program gone: nothing to guard
    const got = optionsOf(name);
    for (const c of want) {
      assert(got.has(c), `${name}: -${c} not found in its source (reader out of date?)`);
    }
  }
});

Deno.test("man: one page per program, and no page without a program", async () => {
  const have = [...Deno.readDirSync(`${root}/man`)].map((e) => e.name).filter((n) =>
    n.endsWith(".8")
  ).map((n) => n.slice(0, -2)).sort();
  assertEquals(have, [...PROGRAMS, ...EXTRA_PAGES].sort());
  assert(PROGRAMS.length >= 17, `only ${PROGRAMS.length} programs found`);
  await pages();
});

for (const name of [...PROGRAMS, ...EXTRA_PAGES]) {
  Deno.test(`man: ${name}.8 renders without warnings, names the version, documents its options`, async () => {
    const page = `${await pages()}/${name}.8`;
    const groff = await run("groff", ["-ww", "-man", "-Tutf8", page]);
    assertEquals([groff.code, groff.stderr], [0, ""]);
    const man = await run("man", ["-l", page], {
      env: { MANPAGER: "cat", PAGER: "cat", MANWIDTH: "80", LC_ALL: "C.UTF-8" },
    });
    assertEquals([man.code, man.stderr], [0, ""]);
    const text = await render(page);
    const [head] = text.split("\n");
    assert(head.startsWith(`${name.toUpperCase()}(8)`), head);
    assert(text.includes(`daemontools-deno ${VERSION}`), "version missing from the footer");
    const words = (title: string) => section(text, title).join(" ").replace(/\s+/g, " ").trim();
    assert(words("NAME").startsWith(`${name} - `), `NAME: ${words("NAME")}`);
    assert(words("SYNOPSIS").includes(name), "SYNOPSIS");
    assert(section(text, "SEE ALSO").length > 0, "SEE ALSO");
    if (EXTRA_PAGES.includes(name)) return;
    assert(section(text, "EXIT STATUS").length > 0, "EXIT STATUS");
    const options = section(text, "OPTIONS");
    for (const c of optionsOf(name)) {
      assert(
        options.some((l) => new RegExp(`^\\s+-${c}(\\s|,|$)`).test(l)),
        `${name}.8: option -${c} has no entry under OPTIONS`,
      );
    }
  });
}

Deno.test("man: the extensions and the differences from daemontools are documented", async () => {
  const dir = await pages();
  const want: Record<string, RegExp[]> = {
    setuidgid: [/^EXTENSIONS$/m, /daemontools-encore/],
    envdir: [/^EXTENSIONS$/m, /^DIFFERENCES FROM DAEMONTOOLS$/m],
    softlimit: [/^EXTENSIONS$/m, /value\s+-\s+comes\s+from\s+daemontools-encore/],
    svscan: [/^DIFFERENCES FROM DAEMONTOOLS$/m, /^SIGNALS$/m],
    supervise: [/^DIFFERENCES FROM DAEMONTOOLS$/m],
    tai64nlocal: [/^DIFFERENCES FROM DAEMONTOOLS$/m, /malformed/],
    daemontools: [/^DIFFERENCES FROM DAEMONTOOLS$/m, /setuidgid -s/, /envdir -p/],
  };
  for (const [name, res] of Object.entries(want)) {
    const text = await render(`${dir}/${name}.8`);
    for (const re of res) assert(re.test(text), `${name}.8 does not match ${re}`);
  }
});

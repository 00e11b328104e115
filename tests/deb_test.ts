/**
 * The Debian package (`make deb`, scripts/deb.sh, pkg/debian/): built twice it is the same
 * bytes; built with no deno on PATH it installs the pinned Deno first; installed for real
 * (dpkg, maintainer scripts and all) into a copy-on-write view of this machine (an overlay of
 * / in private mount and pid namespaces, chrooted), it replaces Debian's daemontools, keeps an
 * existing /etc/service, and its removal stops a running svscan in order, leaving nothing
 * running; Debian's packages and ours replace each other without a broken state. The same
 * with `dpkg --root` (scripts run chrootless with DPKG_ROOT) where no overlay can be made.
 * The machine's own packages are never touched.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { alive, probe, prog, root, run, scratch, script, statusPid, waitFor } from "./util.ts";

const VERSION = Deno.readTextFileSync(`${root}/VERSION`).trim();
const denoDir = Deno.execPath().replace(/\/[^/]*$/, "");
/** PATH with the deno running this test first, as `make deb` would find it. */
const PATH = `${denoDir}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;

const haveDpkgDeb = probe("dpkg-deb", ["--version"]) !== undefined;

/**
 * A copy-on-write view of / can be made (root, unshare, overlayfs): the package is then
 * installed with the real dpkg, maintainer scripts included, without touching this machine.
 */
const canSandbox = haveDpkgDeb && (() => {
  const t = Deno.makeTempDirSync({ prefix: "dt-ovl-" });
  try {
    return probe("unshare", [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      `mkdir ${t}/u ${t}/w ${t}/m && mount -t overlay ov -o lowerdir=/,upperdir=${t}/u,workdir=${t}/w ${t}/m && test -x ${t}/m/usr/bin/dpkg`,
    ]) !== undefined;
  } finally {
    Deno.removeSync(t, { recursive: true });
  }
})();

/** Run `make deb` into `out` (gzip -1: the content is what is tested, not xz's ratio). */
async function makeDeb(out: string, cwd = root, path = PATH) {
  const r = await run("timeout", [
    "900",
    "make",
    "--no-print-directory",
    "deb",
    `DEBDIR=${out}`,
    "DEB_COMPRESS=gzip",
    "DEB_LEVEL=1",
  ], { cwd, env: { PATH: path } });
  assertEquals(r.code, 0, `make deb failed:\n${r.stdout}\n${r.stderr}`);
  return { ...r, deb: `${out}/daemontools-deno_${VERSION}_${arch()}.deb` };
}

function arch(): string {
  return (probe("dpkg", ["--print-architecture"]) ?? "amd64").trim();
}

let built: Promise<string> | undefined;
let builtIn: string | undefined;
/** The package built once for this file's tests (removed when they end). */
function deb(): Promise<string> {
  built ??= (async () => {
    builtIn = await scratch("dt-deb-a-");
    globalThis.addEventListener("unload", () => Deno.removeSync(builtIn!, { recursive: true }));
    return (await makeDeb(builtIn)).deb;
  })();
  return built;
}

/** The control file `name` (md5sums, control, ...) of a package. */
async function control(debFile: string, name: string): Promise<string> {
  const r = await run("sh", [
    "-c",
    `dpkg-deb --ctrl-tarfile "$1" | tar -xOf - ./${name}`,
    "sh",
    debFile,
  ]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test({
  name: "make deb: a second build, elsewhere, gives the same bytes",
  ignore: !haveDpkgDeb,
  fn: async () => {
    const a = await deb();
    const other = await scratch("dt-deb-b-");
    const b = (await makeDeb(other)).deb;
    const [x, y] = [await Deno.readFile(a), await Deno.readFile(b)];
    await Deno.remove(other, { recursive: true });
    assert(x.length > 1_000_000, `suspiciously small package: ${x.length} bytes`);
    assert(x.length === y.length && x.every((v, i) => v === y[i]), "the two .deb files differ");
    // the version is the VERSION file's, and the build left no path of its own inside
    assertMatch(
      await control(a, "control"),
      new RegExp(`^Version: ${VERSION.replace(/\./g, "\\.")}$`, "m"),
    );
    const grep = await run("sh", [
      "-c",
      `d=$(mktemp -d) && dpkg-deb -x "$1" "$d" && grep -rlF -e "$2/" -e /.work/root "$d" --exclude=deno; s=$?; rm -rf "$d"; exit $s`,
      "sh",
      a,
      root,
    ]);
    assertEquals(grep.stdout, "", "files naming the build tree");
  },
});

/** The Deno version the Makefile pins. */
const PINNED = Deno.readTextFileSync(`${root}/Makefile`).match(/^DENO_VERSION := (\S+)$/m)![1];
/** npm and the registry are reachable (the pinned Deno can be installed). */
const npmReachable =
  probe("timeout", ["60", "npm", "view", `deno@${PINNED}`, "version"])?.trim() ===
    PINNED;
/** A PATH without any deno on it (the Makefile must install the pinned one). */
const NO_DENO_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const denoOffPath = probe("sh", ["-c", `PATH=${NO_DENO_PATH} command -v deno`]) === undefined;

Deno.test({
  name: "make deb with no deno on PATH installs the pinned Deno first, and ships it",
  ignore: !haveDpkgDeb || !npmReachable || !denoOffPath,
  fn: async () => {
    // a copy of the tree (what git would check out, plus uncommitted files), without .tools/
    const tree = await scratch("dt-deb-tree-");
    try {
      const files = await run(
        "git",
        ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        {
          cwd: root,
        },
      );
      assertEquals(files.code, 0, files.stderr);
      const list = files.stdout.split("\0").filter((f) => f && !f.startsWith(".tools/"));
      const cp = await run("sh", [
        "-c",
        'cd "$1" && shift && cp --parents -a "$@" "$T"',
        "sh",
        root,
        ...list,
      ], {
        env: { T: tree },
      });
      assertEquals(cp.code, 0, cp.stderr);
      const r = await makeDeb(`${tree}/build/deb`, tree, NO_DENO_PATH);
      assert(
        r.stdout.includes(`deno not found on PATH: installing deno@${PINNED} from npm`),
        r.stdout,
      );
      const pinned = `${tree}/.tools/deno/node_modules/@deno/linux-x64-glibc/deno`;
      assert((await run(pinned, ["--version"])).stdout.startsWith(`deno ${PINNED} `));
      // the package ships that Deno: it is the tested one's byte for byte, or differs only there
      const ours = await control(await deb(), "md5sums");
      const theirs = await control(r.deb, "md5sums");
      const withoutDeno = (s: string) =>
        s.split("\n").filter((l) => !l.endsWith(" usr/lib/daemontools/deno")).join("\n");
      assertEquals(withoutDeno(theirs), withoutDeno(ours));
      const md5 = (await run("md5sum", [pinned])).stdout.split(" ")[0];
      assertMatch(theirs, new RegExp(`^${md5}  usr/lib/daemontools/deno$`, "m"));
    } finally {
      await Deno.remove(tree, { recursive: true });
    }
  },
});

/**
 * Run `body` (sh) chrooted in a copy-on-write view of this machine, in new mount and pid
 * namespaces (everything it starts dies with it), with the directories `debs` at /tmp/debs0,
 * /tmp/debs1, ...
 * Returns its output; nothing outside the view changes.
 */
async function sandbox(debs: string[], body: string) {
  const t = await scratch("dt-sbx-");
  const mounts = debs.map((d, i) =>
    `mkdir -p $t/m/tmp/debs${i} && mount --bind ${d} $t/m/tmp/debs${i}`
  )
    .join("\n");
  await script(
    `${t}/enter.sh`,
    `#!/bin/sh
set -eu
t=${t}
mkdir $t/u $t/w $t/m
mount -t overlay ov -o lowerdir=/,upperdir=$t/u,workdir=$t/w $t/m
mount -t proc proc $t/m/proc
mount --rbind /dev $t/m/dev
mount -t tmpfs tmpfs $t/m/tmp
mount -t tmpfs tmpfs $t/m/run
${mounts}
cp $t/body.sh $t/m/tmp/body.sh
exec chroot $t/m /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \\
  DEBIAN_FRONTEND=noninteractive /bin/sh /tmp/body.sh
`,
  );
  await Deno.writeTextFile(`${t}/body.sh`, `set -e\n${body}`);
  try {
    return await run("timeout", [
      "300",
      "unshare",
      "--mount",
      "--pid",
      "--fork",
      "--propagation",
      "private",
      `${t}/enter.sh`,
    ]);
  } finally {
    await Deno.remove(t, { recursive: true });
  }
}

/** {@linkcode sandbox} with our package (built once) in /tmp/debs0 and `more` after it. */
async function sandboxWithOurs(body: string, ...more: string[]) {
  const d = await deb();
  return await sandbox([d.replace(/\/[^/]*$/, ""), ...more], body);
}

/** A listing of /etc/service (names, types, modes, link targets, file contents). */
const LIST_SERVICES =
  `(cd /etc/service && find . -printf '%p %y %m %l\\n' | sort && find . -type f -exec md5sum {} + | sort)`;

/** Services that exist before the package comes: a plain one, one with a log, a symlink. */
const MAKE_SERVICES = `
mkdir -p /etc/service/plain /etc/service/logged/log/main /etc/service/logged/supervise /srv/linked
printf '#!/bin/sh\\nexec sleep 1000\\n' > /etc/service/plain/run
printf '#!/bin/sh\\necho hi\\nexec sleep 1000\\n' > /etc/service/logged/run
printf '#!/bin/sh\\nexec multilog t ./main\\n' > /etc/service/logged/log/run
printf 'old state\\n' > /etc/service/logged/supervise/status
touch /etc/service/plain/down
cp /etc/service/plain/run /srv/linked/run
chmod 755 /etc/service/*/run /etc/service/logged/log/run /srv/linked/run
ln -s /srv/linked /etc/service/linked
`;

Deno.test({
  name: "deb: installs over Debian's daemontools and a populated /etc/service, which stays",
  ignore: !canSandbox,
  fn: async () => {
    const r = await sandboxWithOurs(
      `
${MAKE_SERVICES}
${LIST_SERVICES} > /tmp/before
dpkg -s daemontools 2>/dev/null | grep -q '^Status: install ok installed' && echo "debian daemontools: installed"
dpkg -i /tmp/debs0/*.deb > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
grep -q 'will remove daemontools in favour of daemontools-deno' /tmp/dpkg.log && echo "replaced daemontools"
dpkg -s daemontools-deno | grep '^Status:'
dpkg -s daemontools 2>/dev/null | grep -q '^Status: install ok installed' && echo "debian daemontools: still installed"
echo "svc -> $(readlink /usr/bin/svc)"
daemontools 2>&1 || echo "daemontools: exit $?"
svok /etc/service/plain || echo "svok: exit $?"
echo "page: $(man -w svscan)"
${LIST_SERVICES} > /tmp/after-install
cmp /tmp/before /tmp/after-install && echo "kept by install"
dpkg -r daemontools-deno > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
${LIST_SERVICES} > /tmp/after-remove
cmp /tmp/before /tmp/after-remove && echo "kept by remove"
[ -e /usr/bin/svc ] || echo "svc gone"
dpkg -P daemontools-deno > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
${LIST_SERVICES} > /tmp/after-purge
cmp /tmp/before /tmp/after-purge && echo "kept by purge"
`,
    );
    assertEquals(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const hadDebian = r.stdout.includes("debian daemontools: installed\n");
    assert(!r.stdout.includes("still installed"), r.stdout);
    for (
      const want of [
        "Status: install ok installed\n",
        "svc -> daemontools\n",
        "daemontools: usage: daemontools program [arg ...]\n",
        "daemontools: exit 100\n",
        "svok: exit 100\n",
        "page: /usr/share/man/man8/svscan.8.gz\n",
        "kept by install\n",
        "kept by remove\n",
        "svc gone\n",
        "kept by purge\n",
      ]
    ) {
      assert(
        r.stdout.includes(want),
        `missing ${JSON.stringify(want)} in:\n${r.stdout}\n${r.stderr}`,
      );
    }
    // where Debian's daemontools was installed (it is, on this project's machines), dpkg
    // removed it in favour of ours
    if (hadDebian) assert(r.stdout.includes("replaced daemontools\n"), r.stdout);
  },
});

Deno.test({
  name: "deb: removing it while svscan runs stops the services, then their loggers; nothing stays",
  ignore: !canSandbox,
  fn: async () => {
    // with an inittab (sysvinit's way: the services are brought down with svc -d while
    // svscan runs, the entry removed, then svscan stopped)
    const r = await sandboxWithOurs(
      `
printf 'id:2:initdefault:\\n' > /etc/inittab
dpkg -i /tmp/debs0/*.deb > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
mkdir -p /etc/service/talk/log /etc/service/quiet
printf '#!/bin/sh\\ntrap "echo bye; exit 0" TERM\\necho hi\\nwhile :; do sleep 0.1; done\\n' > /etc/service/talk/run
printf '#!/bin/sh\\nexec cat >> /tmp/talk.out\\n' > /etc/service/talk/log/run
printf '#!/bin/sh\\nexec sleep 1000\\n' > /etc/service/quiet/run
chmod 755 /etc/service/talk/run /etc/service/talk/log/run /etc/service/quiet/run
svscan /etc/service > /tmp/svscan.out 2>&1 &
scan=$!
n=0
until [ "$(cat /tmp/talk.out 2>/dev/null)" = hi ] && svstat /etc/service/quiet | grep -q ': up '; do
  n=$((n + 1)); [ $n -lt 300 ] || { echo "services did not come up"; svstat /etc/service/*; exit 1; }
  sleep 0.1
done
echo "running: $(ps -e -o comm= | sort | tr '\\n' ' ')"
dpkg -r daemontools-deno
wait $scan && echo "svscan exit 0" || echo "svscan exit $?"
printf 'talk.out: %s\\n' "$(tr '\\n' ' ' < /tmp/talk.out)"
ps -e -o pid=,comm= > /tmp/ps.txt
echo "left: $(awk '$1 != 1 && $2 != "ps" { print $2 }' /tmp/ps.txt | tr '\\n' ' ')"
[ -x /etc/service/talk/run ] && [ -x /etc/service/quiet/run ] && echo "services kept"
printf 'inittab: %s\\n' "$(cat /etc/inittab)"
cat /tmp/svscan.out
`,
    );
    assertEquals(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const out = r.stdout;
    assertMatch(out, /^running: .*cat .*sleep/m); // the logger and the services ran
    assertMatch(
      out,
      /^Removing SV inittab entry \(svscanboot\)\.\.\.\nStopping svscan on \/etc\/service \(pid \d+\): services first/m,
    );
    assert(out.includes("inittab: id:2:initdefault:\n"), out);
    assert(out.includes("svscan exit 0\n"), out);
    // the logger read the service's last words: it was stopped after the service
    assert(out.includes("talk.out: hi bye \n"), out);
    assert(out.includes("left: \n"), out);
    assert(out.includes("services kept\n"), out);
  },
});

/** Debian's daemontools and daemontools-run packages, from apt's cache or downloaded. */
const debianDebs: string | undefined = canSandbox
  ? (() => {
    const dir = Deno.makeTempDirSync({ prefix: "dt-debian-debs-" });
    for (const p of ["daemontools", "daemontools-run"]) {
      const cached = probe("sh", [
        "-c",
        `ls /var/cache/apt/archives/${p}_*.deb 2>/dev/null | head -n 1`,
      ])
        ?.trim();
      if (cached) Deno.copyFileSync(cached, `${dir}/${p}.deb`);
      else if (
        probe("sh", [
          "-c",
          `cd ${dir} && timeout 60 apt-get download -q ${p} && mv ${p}_*.deb ${p}.deb`,
        ]) ===
          undefined
      ) {
        Deno.removeSync(dir, { recursive: true });
        return undefined;
      }
    }
    return dir;
  })()
  : undefined;
if (debianDebs) {
  globalThis.addEventListener("unload", () => Deno.removeSync(debianDebs!, { recursive: true }));
}

Deno.test({
  name: "deb: Debian's daemontools + daemontools-run and ours replace each other, never both",
  ignore: debianDebs === undefined,
  fn: async () => {
    {
      const r = await sandboxWithOurs(
        `
printf 'id:2:initdefault:\\n' > /etc/inittab
mkdir -p /etc/service/plain
printf '#!/bin/sh\\nexec sleep 1000\\n' > /etc/service/plain/run
chmod 755 /etc/service/plain/run
sv() { printf '%s: ' "$1"; grep -c '^SV:' /etc/inittab || true; }
dpkg -i /tmp/debs1/daemontools.deb /tmp/debs1/daemontools-run.deb > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
sv "debian SV entries"
dpkg -i /tmp/debs0/*.deb > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
grep -o 'will remove [a-z-]* in favour of daemontools-deno' /tmp/dpkg.log | sort
for p in daemontools daemontools-run daemontools-deno; do
  printf '%s: %s\\n' $p "$(dpkg-query -W -f '\${db:Status-Abbrev}' $p 2>/dev/null || echo none)"
done
sv "our SV entries"
grep -A1 '^#-- daemontools-deno begin' /etc/inittab
if dpkg -i /tmp/debs1/daemontools-run.deb > /tmp/dpkg.log 2>&1; then echo "debian over ours: accepted"; else echo "debian over ours: refused"; fi
printf 'ours after refusal: %s\\n' "$(dpkg-query -W -f '\${db:Status-Abbrev}' daemontools-deno)"
echo "svc -> $(readlink /usr/bin/svc)"
dpkg -r daemontools-deno > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
dpkg -i /tmp/debs1/daemontools.deb /tmp/debs1/daemontools-run.deb > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
for p in daemontools daemontools-run daemontools-deno; do
  printf 'back: %s: %s\\n' $p "$(dpkg-query -W -f '\${db:Status-Abbrev}' $p 2>/dev/null || echo none)"
done
sv "debian SV entries again"
[ -L /usr/bin/svc ] || echo "svc is Debian's file again"
[ -x /etc/service/plain/run ] && echo "service kept"
# what users type: apt removes both of Debian's packages in one go
apt-get install -y /tmp/debs0/*.deb > /tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
for p in daemontools daemontools-run daemontools-deno; do
  printf 'apt: %s: %s\\n' $p "$(dpkg-query -W -f '\${db:Status-Abbrev}' $p 2>/dev/null || echo none)"
done
`,
        debianDebs!,
      );
      assertEquals(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const out = r.stdout;
      for (
        const want of [
          "debian SV entries: 1\n",
          "will remove daemontools in favour of daemontools-deno\n",
          "will remove daemontools-run in favour of daemontools-deno\n",
          "daemontools-deno: ii \n",
          "our SV entries: 1\n",
          "#-- daemontools-deno begin\nSV:123456:respawn:/usr/bin/svscanboot\n",
          "debian over ours: refused\n",
          "ours after refusal: ii \n",
          "svc -> daemontools\n",
          "back: daemontools: ii \n",
          "back: daemontools-run: ii \n",
          "debian SV entries again: 1\n",
          "svc is Debian's file again\n",
          "service kept\n",
        ]
      ) assert(out.includes(want), `missing ${JSON.stringify(want)} in:\n${out}\n${r.stderr}`);
      // removed in favour of ours; dpkg keeps a package that has a postrm in the
      // config-files state until it is purged, or forgets it
      assertMatch(out, /^daemontools: (un |none)$/m);
      assertMatch(out, /^daemontools-run: (un |ic |rc |none)$/m);
      assertMatch(out, /^back: daemontools-deno: (un |rc |none)$/m);
      assertMatch(out, /^apt: daemontools: (un |rc |none)$/m);
      assertMatch(out, /^apt: daemontools-run: (un |rc |none)$/m);
      assert(out.includes("apt: daemontools-deno: ii \n"), out);
    }
  },
});

/** dpkg --root with the scripts run outside a chroot (DPKG_ROOT set for them). */
function dpkgRoot(r: string, ...args: string[]) {
  return run("dpkg", [
    `--root=${r}`,
    "--force-script-chrootless",
    "--force-depends",
    "--log=/dev/null",
    ...args,
  ]);
}

/** A scratch root for dpkg --root: ROOT/var/lib/dpkg (empty status) and ROOT/etc/service. */
async function scratchRoot(): Promise<string> {
  const r = await scratch("dt-dpkgroot-");
  for (
    const d of ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc/service"]
  ) {
    await Deno.mkdir(`${r}/${d}`, { recursive: true });
  }
  await Deno.writeTextFile(`${r}/var/lib/dpkg/status`, "");
  return r;
}

/**
 * Register test `name` (ignored without dpkg-deb): `fn` gets our package and a
 * {@linkcode scratchRoot}, removed when it ends.
 */
function rootTest(name: string, fn: (deb: string, root: string) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !haveDpkgDeb,
    fn: async () => {
      const d = await deb();
      const r = await scratchRoot();
      try {
        await fn(d, r);
      } finally {
        await Deno.remove(r, { recursive: true });
      }
    },
  });
}

rootTest(
  "deb: dpkg --root: install twice over services and an inittab, remove, purge",
  async (d, r) => {
    await Deno.writeTextFile(`${r}/etc/inittab`, "id:2:initdefault:\n");
    await Deno.mkdir(`${r}/etc/service/keep/supervise`, { recursive: true });
    await script(`${r}/etc/service/keep/run`, "#!/bin/sh\nexec sleep 1000\n");
    await Deno.writeTextFile(`${r}/etc/service/keep/supervise/status`, "state\n");
    const listing = async () =>
      (await run("sh", [
        "-c",
        `cd "$1" && find . -printf '%p %y %m %s\\n' | sort`,
        "sh",
        `${r}/etc/service`,
      ]))
        .stdout;
    const before = await listing();
    for (let i = 0; i < 2; i++) {
      const inst = await dpkgRoot(r, "-i", d);
      assertEquals(inst.code, 0, inst.stderr);
    }
    const inittab = await Deno.readTextFile(`${r}/etc/inittab`);
    assertEquals(
      inittab,
      "id:2:initdefault:\n#-- daemontools-deno begin\nSV:123456:respawn:/usr/bin/svscanboot\n#-- daemontools-deno end\n",
    );
    const wants = `${r}/etc/systemd/system/multi-user.target.wants/svscan.service`;
    assertEquals(await Deno.readLink(wants), "/lib/systemd/system/svscan.service");
    assertEquals(await listing(), before);
    const rm = await dpkgRoot(r, "-r", "daemontools-deno");
    assertEquals(rm.code, 0, rm.stderr);
    assertEquals(await Deno.readTextFile(`${r}/etc/inittab`), "id:2:initdefault:\n");
    assertEquals(await listing(), before);
    const purge = await dpkgRoot(r, "-P", "daemontools-deno");
    assertEquals(purge.code, 0, purge.stderr);
    assertEquals(await listing(), before);
    let enabled = true;
    try {
      await Deno.lstat(wants);
    } catch {
      enabled = false;
    }
    assert(!enabled, "the unit is still enabled after the purge");
  },
);

rootTest(
  "deb: dpkg --root -r while svscan runs on ROOT/etc/service stops it in order",
  async (d, r) => {
    const sv = `${r}/etc/service`;
    let scan: Deno.ChildProcess | undefined;
    try {
      const inst = await dpkgRoot(r, "-i", d);
      assertEquals(inst.code, 0, inst.stderr);
      await Deno.mkdir(`${sv}/talk/log`, { recursive: true });
      await Deno.mkdir(`${sv}/quiet`, { recursive: true });
      await script(
        `${sv}/talk/run`,
        "#!/bin/sh\ntrap 'echo bye; exit 0' TERM\necho hi\nwhile :; do sleep 0.1; done\n",
      );
      await script(`${sv}/talk/log/run`, `#!/bin/sh\nexec cat >> ${r}/talk.out\n`);
      await script(`${sv}/quiet/run`, "#!/bin/sh\nexec sleep 1000\n");
      scan = new Deno.Command(prog("svscan"), {
        args: [sv],
        env: { PATH: `${prog("svscan").replace(/\/svscan$/, "")}:${Deno.env.get("PATH")}` },
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const pids = await waitFor("services up", () => {
        const p = [statusPid(`${sv}/talk`), statusPid(`${sv}/talk/log`), statusPid(`${sv}/quiet`)];
        let out = "";
        try {
          out = Deno.readTextFileSync(`${r}/talk.out`);
        } catch { /* not yet */ }
        return p.every((x) => x > 0) && out === "hi\n" ? p : undefined;
      });
      const rm = await dpkgRoot(r, "-r", "daemontools-deno");
      assertEquals(rm.code, 0, rm.stderr);
      assertMatch(rm.stdout, /Stopping svscan on .*\/etc\/service \(pid \d+\)/);
      // dpkg returned: svscan has exited 0, every service and logger with it
      const st = await scan.status;
      scan = undefined;
      assertEquals(st.code, 0);
      for (const p of pids) assert(!alive(p), `pid ${p} still runs`);
      assertEquals(await Deno.readTextFile(`${r}/talk.out`), "hi\nbye\n");
    } finally {
      if (scan) {
        scan.kill("SIGKILL");
        await scan.status;
      }
    }
  },
);

Deno.test({
  name: "update-service: add, list, check, remove a service in SVDIR",
  ignore: Deno.uid() !== 0, // adding and removing need root, as Debian's
  fn: async () => {
    const t = await scratch();
    try {
      const svdir = `${t}/service`;
      await Deno.mkdir(svdir);
      await Deno.mkdir(`${t}/srv/web`, { recursive: true });
      await script(`${t}/srv/web/run`, "#!/bin/sh\nexec sleep 1000\n");
      const us = (...args: string[]) =>
        run("sh", [`${root}/pkg/update-service`, ...args], {
          env: {
            SVDIR: svdir,
            PATH: `${prog("svc").replace(/\/svc$/, "")}:${Deno.env.get("PATH")}`,
          },
        });
      let r = await us("--check", "web");
      assertEquals([r.code, r.stdout, r.stderr], [1, "", ""]);
      r = await us("--add", `${t}/srv/web/`);
      assertEquals([r.code, r.stdout], [0, "service web added\n"]);
      assertEquals(await Deno.readLink(`${svdir}/web`), `${t}/srv/web`);
      r = await us("-a", `${t}/srv/web`);
      assertEquals([r.code, r.stdout], [0, "service web already added\n"]);
      r = await us("--list");
      assertEquals([r.code, r.stdout], [0, "web\n"]);
      r = await us("-l", "web");
      assertEquals([r.code, r.stdout], [0, `web -> ${t}/srv/web\n`]);
      r = await us("-c", "web");
      assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
      r = await us("--add", "srv/web");
      assertEquals([r.code, r.stderr], [
        1,
        "update-service: fatal: the service directory must be an absolute path: srv/web\n",
      ]);
      r = await us("--add", `${t}/srv/web`, ".hidden");
      assertEquals(r.code, 1);
      assertMatch(r.stderr, /^update-service: fatal: invalid service name: '\.hidden'/);
      r = await us("--bogus");
      assertEquals(r.code, 1);
      assertMatch(r.stderr, /^usage: update-service --add\|--remove/);
      r = await us("--remove", `${t}/srv/web`);
      assertEquals(r.code, 0, r.stderr);
      // no supervisor ran: svc warns and succeeds, as with Debian's svc
      assertMatch(r.stderr, /svc: warning: unable to control .*\/srv\/web: /);
      assertMatch(r.stdout, /^service web removed/);
      r = await us("-c", "web");
      assertEquals(r.code, 1);
    } finally {
      await Deno.remove(t, { recursive: true });
    }
  },
});

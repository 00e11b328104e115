/**
 * A file system whose writes can be made slow or held, for the hosted-logger fault tests and
 * bench/svscan_hosted_fsync.ts: an ext2 image on a loop device, throttled through cgroup v1's
 * `blkio.throttle.write_bps_device` / `write_iops_device` (the root group, the loop device
 * only). With 1 byte/s every write-back of the device waits (an fsync stays in the kernel
 * until the limit is lifted, which dispatches what waited); with a few IOPS each fsync takes
 * 0.5-2 s. Needs root, losetup, mkfs.ext2 and the blkio controller (no device-mapper here:
 * dm-delay is not available on this kernel). Also the tmpfs probe for a full file system.
 * @module
 */

const BLKIO = "/sys/fs/cgroup/blkio";

function sh(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  try {
    const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    const dec = new TextDecoder();
    return { ok: o.success, out: dec.decode(o.stdout).trim(), err: dec.decode(o.stderr).trim() };
  } catch (e) {
    return { ok: false, out: "", err: String(e) };
  }
}

/** A mounted ext2 file system on a loop device whose writes can be throttled. */
export class SlowDisk {
  private constructor(
    /** where it is mounted */
    readonly mnt: string,
    private readonly image: string,
    /** the loop device (`/dev/loopN`) */
    readonly dev: string,
    /** `MAJOR:MINOR` of the loop device */
    readonly majmin: string,
  ) {}

  /**
   * Make an image of `mb` MB at `image` (file system `fs`: ext2, ext4), attach it, mount it on
   * `mnt` (made if missing).
   * Returns the disk or why it could not be made (the caller reports the test as ignored).
   */
  static make(image: string, mnt: string, mb = 16, fs = "ext2"): SlowDisk | string {
    for (const f of ["write_bps_device", "write_iops_device"]) {
      try {
        Deno.statSync(`${BLKIO}/blkio.throttle.${f}`);
      } catch {
        return `no ${BLKIO}/blkio.throttle.${f}`;
      }
    }
    const t = sh("truncate", ["-s", `${mb}M`, image]);
    if (!t.ok) return `truncate: ${t.err}`;
    const m = sh(`mkfs.${fs}`, ["-q", "-F", image]);
    if (!m.ok) return `mkfs.${fs}: ${m.err}`;
    const l = sh("losetup", ["-f", "--show", image]);
    if (!l.ok) return `losetup: ${l.err}`;
    const dev = l.out;
    const st = Deno.statSync(dev);
    const majmin = `${st.rdev! >> 8 & 0xfff}:${(st.rdev! & 0xff) | (st.rdev! >> 12 & 0xfff00)}`;
    Deno.mkdirSync(mnt, { recursive: true });
    const mo = sh("mount", [dev, mnt]);
    if (!mo.ok) {
      sh("losetup", ["-d", dev]);
      return `mount: ${mo.err}`;
    }
    const d = new SlowDisk(mnt, image, dev, majmin);
    try {
      d.limit("bps", 0);
    } catch (e) {
      d.close();
      return `blkio: ${e}`;
    }
    return d;
  }

  /** Set the device's write limit (0: none). */
  limit(kind: "bps" | "iops", value: number): void {
    Deno.writeTextFileSync(
      `${BLKIO}/blkio.throttle.write_${kind}_device`,
      `${this.majmin} ${value}\n`,
    );
  }

  /** Hold every write-back of the device (1 byte/s): an fsync waits until {@linkcode lift}. */
  hold(): void {
    this.limit("bps", 1);
  }

  /** No limits: what waited is dispatched. */
  lift(): void {
    try {
      this.limit("bps", 0);
      this.limit("iops", 0);
    } catch { /* gone */ }
  }

  /** Lift the limits, detach the mount lazily (processes may still use it), free the device. */
  close(): void {
    this.lift();
    sh("umount", ["-l", this.mnt]);
    sh("losetup", ["-d", this.dev]);
    try {
      Deno.removeSync(this.image);
    } catch { /* gone */ }
  }
}

/** Why a throttled loop device cannot be made here, or undefined (it can: probed for real). */
export function slowDiskMissing(): string | undefined {
  const dir = Deno.makeTempDirSync({ prefix: "dt-slow-probe-" });
  try {
    const d = SlowDisk.make(`${dir}/img`, `${dir}/mnt`, 4);
    if (typeof d === "string") return d;
    d.close();
    return undefined;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Whether a tmpfs can be mounted here (root, not in a locked-down container): probed. */
export function canMountTmpfs(): boolean {
  const probe = Deno.makeTempDirSync({ prefix: "dt-mnt-probe-" });
  try {
    if (!sh("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]).ok) return false;
    sh("umount", [probe]);
    return true;
  } finally {
    Deno.removeSync(probe, { recursive: true });
  }
}

/** Mount a tmpfs of `size` (e.g. `512k`) on `mnt`; false when it cannot be mounted. */
export function mountTmpfs(mnt: string, size: string): boolean {
  Deno.mkdirSync(mnt, { recursive: true });
  return sh("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt]).ok;
}

/** Unmount lazily (processes may still hold files there; they are killed afterwards). */
export function unmount(mnt: string): void {
  sh("umount", ["-l", mnt]);
}

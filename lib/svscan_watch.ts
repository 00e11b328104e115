/**
 * Does the file system holding a directory report changes through inotify (Deno.watchFs)?
 * Local file systems do; network and FUSE file systems do not report changes made by other
 * hosts (or by the FUSE server), so svscan keeps 0.76's 5-second rescan there.
 * Decided from the type of the mount containing the directory (/proc/self/mountinfo).
 * @module
 */

/** File system types whose inotify events are complete for local changes. */
const LOCAL = new Set([
  "ext2",
  "ext3",
  "ext4",
  "xfs",
  "btrfs",
  "tmpfs",
  "ramfs",
  "overlay",
  "zfs",
  "f2fs",
  "jfs",
  "reiserfs",
  "bcachefs",
  "vfat",
  "exfat",
  "nilfs2",
]);

/** Undo mountinfo's octal escapes (`\040` for a space, ...). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** Type of the file system mounted at the longest mount point containing `path`. */
export function fsType(path: string): string | undefined {
  let real: string;
  let info: string;
  try {
    real = Deno.realPathSync(path);
    info = Deno.readTextFileSync("/proc/self/mountinfo");
  } catch {
    return undefined;
  }
  let best = "";
  let type: string | undefined;
  for (const line of info.split("\n")) {
    const f = line.split(" ");
    if (f.length < 10) continue;
    const mnt = unescape(f[4]);
    const sep = f.indexOf("-", 6);
    if (sep < 0) continue;
    const inside = real === mnt || mnt === "/" || real.startsWith(mnt + "/");
    if (inside && mnt.length >= best.length) {
      best = mnt;
      type = f[sep + 1];
    }
  }
  return type;
}

/** True when changes in `path` are reliably reported by inotify. */
export function eventsReliable(path: string): boolean {
  const t = fsType(path);
  return t !== undefined && LOCAL.has(t);
}

/**
 * File-system events for the scanned directory: {@linkcode watchDir} reports changes of its
 * entries (Deno.watchFs, inotify underneath, non-recursive), and {@linkcode eventsReliable}
 * says whether such events can be trusted to be complete. Local file systems report every
 * change; network and FUSE file systems do not report changes made by other hosts (or by the
 * FUSE server), so svscan keeps 0.76's 5-second rescan there. Decided from the type of the
 * mount containing the directory (/proc/self/mountinfo).
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

/** A running directory watch. */
export interface DirWatch {
  /** Stop watching (`onEnd` is then called too). */
  close(): void;
}

/**
 * Call `onChange` for every change of `path`'s entries (not of what lies deeper), and
 * `onEnd` once the watch is closed or fails. Undefined when no watch can be made here.
 */
export function watchDir(
  path: string,
  onChange: () => void,
  onEnd: () => void,
): DirWatch | undefined {
  let w: Deno.FsWatcher;
  try {
    w = Deno.watchFs(path, { recursive: false });
  } catch {
    return undefined;
  }
  (async () => {
    try {
      for await (const _ev of w) onChange();
    } catch {
      // the watcher failed
    }
    onEnd();
  })();
  return {
    close: () => {
      try {
        w.close();
      } catch {
        // already closed
      }
    },
  };
}

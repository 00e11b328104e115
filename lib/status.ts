/**
 * The 18-byte `supervise/status` file of daemontools 0.76:
 * 12-byte TAI64N stamp of the last pid change, pid (4 bytes little-endian,
 * 0 = down), paused flag, want byte (`u`, `d`, or 0 after `o`).
 * @module
 */
import { pack, type Tai64n, unpack } from "./tai64n.ts";

/** Length of the 0.76 status file. */
export const STATUS_SIZE = 18;

/** What the want byte can hold: up, down, or 0 (once). */
export type Want = "u" | "d" | 0;

/** Decoded status. */
export interface Status {
  stamp: Tai64n;
  pid: number;
  paused: boolean;
  want: Want;
}

/** Encode as the 18 bytes supervise writes. `paused` is written only while a pid is up. */
export function encodeStatus(s: Status): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(STATUS_SIZE);
  pack(s.stamp, b, 0);
  new DataView(b.buffer).setUint32(12, s.pid >>> 0, true);
  b[16] = s.paused && s.pid !== 0 ? 1 : 0;
  b[17] = s.want === 0 ? 0 : s.want.charCodeAt(0);
  return b;
}

/** Raw fields of a status file (at least 18 bytes; extra bytes are ignored, as svstat does). */
export interface RawStatus {
  stamp: Tai64n;
  pid: number;
  pausedByte: number;
  wantByte: number;
}

/** Decode the first 18 bytes; undefined when fewer than 18 are given. */
export function decodeStatus(b: Uint8Array): RawStatus | undefined {
  if (b.length < STATUS_SIZE) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, STATUS_SIZE);
  return {
    stamp: unpack(b, 0),
    pid: v.getUint32(12, true),
    pausedByte: b[16],
    wantByte: b[17],
  };
}

/**
 * lib/sys.ts and lib/elf_stub.ts: the system-call stub called as a library symbol, the
 * addresses of buffers handed to the kernel.
 */
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { addr, NR, sys } from "../lib/sys.ts";
import { sharedObject } from "../lib/elf_stub.ts";
import { cstr } from "../lib/bytes.ts";

let loads = 0;

/**
 * Load `bytes` as a library from a memfd with `symbols`. ld.so takes a path it has loaded
 * before for the same library (a descriptor number comes again): each path is made unique.
 */
function loadFromMemfd<S extends Deno.ForeignLibraryInterface>(
  bytes: Uint8Array<ArrayBuffer>,
  symbols: S,
) {
  const fd = sys(NR.memfd_create, addr(cstr("sys-test")), 1);
  assert(fd >= 0, `memfd_create: ${fd}`);
  try {
    assertEquals(sys(NR.write, fd, addr(bytes), bytes.length), bytes.length);
    return Deno.dlopen(`/proc/self/${"./".repeat(++loads)}fd/${fd}`, symbols);
  } finally {
    sys(NR.close, fd);
  }
}

Deno.test("sys: the stub runs as a library loaded from a memfd, errors come back as -errno", () => {
  assertEquals(sys(NR.close, -1), -9); // EBADF
  const maps = Deno.readTextFileSync("/proc/self/maps");
  assert(maps.includes("/memfd:daemontools-syscall"), "the stub library is not mapped");
  assertEquals(sys(NR.getpid), Deno.pid);
});

Deno.test("elf_stub: the library's one symbol runs the code it was given", () => {
  // mov eax, edi; add eax, esi; ret
  const lib = loadFromMemfd(sharedObject("add2", new Uint8Array([0x89, 0xf8, 0x01, 0xf0, 0xc3])), {
    add2: { parameters: ["i32", "i32"], result: "i32" },
    other: { name: "add2", parameters: ["i32", "i32"], result: "i32", nonblocking: true },
  });
  try {
    assertEquals(lib.symbols.add2(40, 2), 42);
    assertEquals(lib.symbols.add2(-5, 3), -2);
  } finally {
    lib.close();
  }
});

Deno.test("elf_stub: a name the library has not is refused by dlopen, a too long one by the builder", () => {
  const so = sharedObject("one", new Uint8Array([0xc3]));
  assertThrows(() => loadFromMemfd(so, { two: { parameters: [], result: "void" } }));
  assertThrows(() => sharedObject("n".repeat(40), new Uint8Array([0xc3])), RangeError);
  assertThrows(() => sharedObject("n", new Uint8Array(4000)), RangeError);
});

Deno.test("addr: a view's address is its buffer's plus its offset, and the kernel writes there", () => {
  const b = new Uint8Array(64);
  for (const off of [0, 1, 7, 63]) {
    const v = b.subarray(off);
    assertEquals(addr(v), BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(v))));
  }
  const p = new Int32Array(2);
  assertEquals(sys(NR.pipe2, addr(p), 0o2000000), 0);
  try {
    const msg = new TextEncoder().encode("abc");
    assertEquals(sys(NR.write, p[1], addr(msg), 3), 3);
    assertEquals(sys(NR.read, p[0], addr(b.subarray(10, 13)), 3), 3);
    assertEquals([...b.subarray(9, 14)], [0, 97, 98, 99, 0]);
    // a small array (kept on V8's heap until asked for its buffer) and a DataView
    const small = new Uint8Array(4);
    assertEquals(sys(NR.write, p[1], addr(msg), 3), 3);
    assertEquals(sys(NR.read, p[0], addr(small.subarray(1)), 3), 3);
    assertEquals([...small], [0, 97, 98, 99]);
    const dv = new DataView(new ArrayBuffer(8), 4);
    assertEquals(sys(NR.write, p[1], addr(msg), 3), 3);
    assertEquals(sys(NR.read, p[0], addr(dv), 3), 3);
    assertEquals(dv.getUint8(2), 99);
  } finally {
    sys(NR.close, p[0]);
    sys(NR.close, p[1]);
  }
});

/**
 * The smallest x86_64 ELF shared object that exports one function: the bytes of a library
 * `dlopen` can load (from a memfd), so that lib/sys.ts calls its system-call stub as a library
 * symbol. Deno calls library symbols through V8's fast API (about 0.1 µs besides the call);
 * a bare code pointer only through `UnsafeFnPointer.call`, which converts the function's
 * description at every call (about 2.8 µs; figures in lib/sys.ts).
 *
 * Layout (file offsets are addresses, base 0):
 * - 0x000 ELF header, 0x040 four program headers;
 * - 0x100 SysV hash table (one bucket), 0x118 symbols (the null one and ours), 0x148 their
 *   names, 0x160 the code; all of it one read+execute segment;
 * - 0x1000 the dynamic section, alone in a read+write segment (older ld.so relocate it in
 *   place); PT_GNU_STACK says the stack stays non-executable.
 * @module
 */

const TEXT_END = 0x1000;
const HASH = 0x100;
const SYMTAB = 0x118;
const STRTAB = 0x148;
const CODE = 0x160;
const DYN_ENTRIES = 6;

/** ELF bytes of a shared object whose one global function `name` is `code`. */
export function sharedObject(name: string, code: Uint8Array): Uint8Array<ArrayBuffer> {
  const names = new TextEncoder().encode(`\0${name}\0`);
  if (STRTAB + names.length > CODE || CODE + code.length > TEXT_END) {
    throw new RangeError("name or code too long for the stub library");
  }
  const out = new Uint8Array(TEXT_END + DYN_ENTRIES * 16);
  const v = new DataView(out.buffer);
  const u16 = (o: number, x: number) => v.setUint16(o, x, true);
  const u32 = (o: number, x: number) => v.setUint32(o, x, true);
  const u64 = (o: number, x: number) => v.setBigUint64(o, BigInt(x), true);

  // ELF header: 64-bit, little-endian, version 1, System V; ET_DYN for EM_X86_64
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  u16(16, 3);
  u16(18, 62);
  u32(20, 1);
  u64(32, 64); // e_phoff
  u16(52, 64); // e_ehsize
  u16(54, 56); // e_phentsize
  u16(56, 4); // e_phnum
  u16(58, 64); // e_shentsize (no section headers)

  // program headers: type, flags, offset, vaddr, paddr, filesz, memsz, align
  const ph = (i: number, type: number, flags: number, off: number, size: number, align: number) => {
    const o = 64 + i * 56;
    u32(o, type);
    u32(o + 4, flags);
    u64(o + 8, off);
    u64(o + 16, off);
    u64(o + 24, off);
    u64(o + 32, size);
    u64(o + 40, size);
    u64(o + 48, align);
  };
  const PF_X = 1, PF_W = 2, PF_R = 4;
  const dynSize = DYN_ENTRIES * 16;
  ph(0, 1, /* PT_LOAD */ PF_R | PF_X, 0, CODE + code.length, 0x1000);
  ph(1, 1, /* PT_LOAD */ PF_R | PF_W, TEXT_END, dynSize, 0x1000);
  ph(2, 2, /* PT_DYNAMIC */ PF_R | PF_W, TEXT_END, dynSize, 8);
  ph(3, 0x6474e551, /* PT_GNU_STACK */ PF_R | PF_W, 0, 0, 16);

  // hash: nbucket 1, nchain 2; bucket[0] = symbol 1, chains end at once
  u32(HASH, 1);
  u32(HASH + 4, 2);
  u32(HASH + 8, 1);
  // symbol 1: name at 1, STB_GLOBAL|STT_FUNC, default visibility, a defined section
  u32(SYMTAB + 24, 1);
  out[SYMTAB + 24 + 4] = 0x12;
  u16(SYMTAB + 24 + 6, 1);
  u64(SYMTAB + 24 + 8, CODE);
  u64(SYMTAB + 24 + 16, code.length);
  out.set(names, STRTAB);
  out.set(code, CODE);

  // dynamic section: DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_NULL
  const dyn = [4, HASH, 5, STRTAB, 6, SYMTAB, 10, names.length, 11, 24, 0, 0];
  for (let i = 0; i < dyn.length; i++) u64(TEXT_END + i * 8, dyn[i]);
  return out;
}

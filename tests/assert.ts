/** The assertions tests use, from node's built-in (JSR's @std/assert is unreachable here). */
export {
  deepStrictEqual as assertEquals,
  match as assertMatch,
  notDeepStrictEqual as assertNotEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";

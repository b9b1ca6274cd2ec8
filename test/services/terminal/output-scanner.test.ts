import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { columnAfter, OutputScanner, type ScanMark } from "../../../src/services/terminal/OutputScanner.js"

const bytes = (text: string) => new TextEncoder().encode(text)
const scan = (text: string, cols = 10) => {
  const scanner = new OutputScanner(0, cols, 1 << 30)
  scanner.feed(bytes(text))
  return scanner.mark()
}
const comparable = (mark: ScanMark) => ({ ...mark, sgr: mark.sgr.map((s) => Array.from(s)) })

describe("OutputScanner", () => {
  it("plain text, CR and LF keep the column exact; wraps and line feeds are counted", () => {
    const mark = scan("hello\r\nworld, this wraps\r\nab", 10)
    expect(mark).toMatchObject({ ground: true, unsafeEnd: 0, lineFeeds: 2, column: 2, printables: 5 + 17 + 2 })
    // "world, this wraps" is 17 characters from column 0: one wrap.
    expect(mark.wraps).toBe(1)
    // A line feed at a pending wrap pulls the column back to the last one (as xterm does).
    expect(scan("\r0123456789\n", 10).column).toBe(9)
  })

  it("SGR and EL are plain; SGR sequences are kept, a reset drops the ones before it", () => {
    const mark = scan("\x1b[1m\x1b[31mred\x1b[0;4munder\x1b[K")
    expect(mark.unsafeEnd).toBe(0)
    expect(mark.sgrReset).toBe(true)
    expect(mark.sgr.map((s) => new TextDecoder().decode(s))).toEqual(["\x1b[0;4m"])
    expect(mark.column).toBeNull() // EL may move a pending-wrap cursor
  })

  it("anything else is unsafe up to its end, and the parser state is followed through strings and C1 controls", () => {
    const title = "\x1b]0;a title; with [31m inside\x07"
    expect(scan(`ok${title}`).unsafeEnd).toBe(bytes(`ok${title}`).length)
    expect(scan("ok\x1b[2;5H").unsafeEnd).toBe(8)
    expect(scan("ok\x08").unsafeEnd).toBe(3)
    // C1 CSI written in UTF-8 (U+009B) opens a sequence: not ground until its final byte.
    expect(scan("ok\u009b2").ground).toBe(false)
    expect(scan("ok\u009b2J").ground).toBe(true)
    // An OSC string is open until BEL or ST.
    expect(scan("\x1b]0;unterminated").ground).toBe(false)
    expect(scan("\x1b]0;done\x1b\\").ground).toBe(true)
    // An open UTF-8 sequence is not ground either.
    const open = new OutputScanner(0, 10, 1 << 30)
    open.feed(Uint8Array.of(0x61, 0xe6, 0xbc))
    expect(open.mark().ground).toBe(false)
  })

  it("characters of unknown width make the column unknown until the next CR", () => {
    expect(scan("漢字").column).toBeNull()
    expect(scan("漢字\rab").column).toBe(2)
    expect(scan("a\tb").column).toBeNull()
  })

  it("the column arithmetic matches xterm's autowrap: a wrap is pending at the last column", () => {
    expect(columnAfter(0, 10, 10)).toBe(10)
    expect(columnAfter(0, 11, 10)).toBe(1)
    expect(columnAfter(10, 1, 10)).toBe(1)
    expect(columnAfter(7, 0, 10)).toBe(7)
  })

  it("feeding in any pieces, at any alignment, records the same facts as feeding byte by byte", () => {
    const piece = fc.oneof(
      fc.string({ unit: fc.constantFrom(..."abcdefgh xyz"), maxLength: 90 }),
      fc.constantFrom("\r\n", "\n", "\r", "\t", "\x07", "\x7f", "\x1b[31m", "\x1b[0m", "\x1b[K", "é", "漢", "\x1b[H", "\x1b]0;t\x07", "\u009b1m", "\x08")
    )
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 2, max: 30 }),
        (pieces, sizes, misalign, cols) => {
          const data = bytes(pieces.join(""))
          const byByte = new OutputScanner(0, cols, 1 << 30)
          for (const b of data) byByte.feed(Uint8Array.of(b))
          const inPieces = new OutputScanner(0, cols, 1 << 30)
          const backing = new Uint8Array(data.length + 8)
          backing.set(data, misalign)
          let at = 0
          for (let i = 0; at < data.length; i++) {
            const size = sizes[i % sizes.length]!
            inPieces.feed(backing.subarray(misalign + at, misalign + Math.min(data.length, at + size)))
            at += size
          }
          const a = byByte.mark()
          const b = inPieces.mark()
          expect(comparable(b)).toEqual(comparable(a))
        }
      ),
      { numRuns: 500, seed: 11 }
    )
  })
})

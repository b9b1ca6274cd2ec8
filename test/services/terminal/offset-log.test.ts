/**
 * OffsetLog with small appends packed (`packBelow`, the server's ring): the
 * same bytes at the same offsets as without packing, few chunks for many
 * small appends, large appends kept as given, and views once handed out
 * never overwritten. (The unpacked log's tests are in mirror.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { OffsetLog, PACK_BYTES } from "../../../src/services/terminal/OffsetLog.js"

const chunkCount = (log: OffsetLog) =>
  (log as unknown as { chunks: Array<{ data: Uint8Array }>; head: number }).chunks.length -
  (log as unknown as { head: number }).head

const bytes = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (seed + i) & 0xff)

describe("OffsetLog (packed)", () => {
  it("many one-byte appends end up in a few shared buffers, byte-exact", () => {
    const log = new OffsetLog(1000, { packBelow: 2048 })
    const n = 3 * PACK_BYTES + 10
    for (let i = 0; i < n; i++) log.append(Uint8Array.of(i & 0xff))
    expect(log.size).toBe(n)
    expect(chunkCount(log)).toBe(4)
    const copy = log.copyFrom(1000)!
    expect(copy.every((b, i) => b === (i & 0xff))).toBe(true)
  })

  it("a large append is kept as given (no copy) and packing resumes after it", () => {
    const log = new OffsetLog(0, { packBelow: 2048 })
    log.append(bytes(10, 0))
    const large = bytes(4096, 7)
    log.append(large)
    log.append(bytes(10, 3))
    expect(chunkCount(log)).toBe(3)
    const parts = log.readFrom(10)!
    expect(parts[0]!.data.buffer).toBe(large.buffer)
    expect(parts[1]!.offset).toBe(4106)
  })

  it("views handed out stay intact while later appends fill the same buffer", () => {
    const log = new OffsetLog(0, { packBelow: 2048 })
    log.append(new TextEncoder().encode("hello "))
    const view = log.readFrom(0)![0]!.data
    log.append(new TextEncoder().encode("world"))
    expect(new TextDecoder().decode(view)).toBe("hello ")
    expect(new TextDecoder().decode(log.copyFrom(0)!)).toBe("hello world")
  })

  it("after trimming everything, appends start a fresh buffer (nothing handed out is reused)", () => {
    const log = new OffsetLog(0, { packBelow: 2048 })
    log.append(new TextEncoder().encode("abc"))
    const view = log.readFrom(0)![0]!.data
    log.trimTo(3)
    log.append(new TextEncoder().encode("xyz"))
    expect(new TextDecoder().decode(view)).toBe("abc")
    expect(new TextDecoder().decode(log.copyFrom(3)!)).toBe("xyz")
  })

  it("holds exactly what an unpacked log holds, for any appends, trims and resets", () => {
    type Step =
      | { readonly _tag: "append"; readonly length: number }
      | { readonly _tag: "trim"; readonly keep: number }
      | { readonly _tag: "reset"; readonly skip: number }
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 3000 }).map((length) => ({ _tag: "append" as const, length })) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: 20_000 }).map((keep) => ({ _tag: "trim" as const, keep })) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 100 }).map((skip) => ({ _tag: "reset" as const, skip })) }
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), fc.integer({ min: 1, max: 4096 }), (steps, packBelow) => {
        const packed = new OffsetLog(5, { packBelow })
        const plain = new OffsetLog(5)
        let seed = 0
        for (const s of steps) {
          if (s._tag === "append") {
            const data = bytes(s.length, seed++)
            expect(packed.append(data)).toBe(plain.append(data))
          } else if (s._tag === "trim") {
            packed.trimToCapacity(s.keep)
            plain.trimToCapacity(s.keep)
          } else {
            packed.resetTo(plain.end + s.skip)
            plain.resetTo(plain.end + s.skip)
          }
          expect([packed.start, packed.end]).toEqual([plain.start, plain.end])
          const from = packed.start + Math.floor(packed.size / 3)
          expect(packed.copyFrom(from)).toEqual(plain.copyFrom(from))
          expect(packed.readFrom(from, 1000)?.every((p) => p.data.length <= 1000)).toBe(true)
        }
      }),
      { numRuns: 60 }
    )
  })
})

/**
 * OutputRing, the server's ring of recent output: it holds exactly what a
 * plain OffsetLog trimmed to the same capacity holds, for any appends, trims
 * and resets; it copies what it is given (the caller's buffer can die young);
 * and its blocks are recycled, so a ring relaying a long stream allocates a
 * fixed number of blocks, not one per frame; rings sharing a pool pass
 * blocks on to each other and never share one.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { OffsetLog } from "../../../src/services/terminal/OffsetLog.js"
import { BLOCK_BYTES, OutputRing, RingBlockPool } from "../../../src/services/terminal/OutputRing.js"

const bytes = (length: number, seed: number) => {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i) & 0xff
  return out
}

/** Byte equality without vitest's element-by-element deep compare (slow for MBs). */
const sameBytes = (a: Uint8Array | null, b: Uint8Array | null) =>
  a === null || b === null ? a === b : Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))

const blocksOf = (ring: OutputRing) => (ring as unknown as { blocks: Array<Uint8Array> }).blocks

describe("OutputRing", () => {
  it("copies appended bytes: overwriting the caller's buffer changes nothing held", () => {
    const ring = new OutputRing(1000)
    const data = new TextEncoder().encode("hello world")
    ring.append(data)
    data.fill(0)
    expect(new TextDecoder().decode(ring.copyFrom(1000)!)).toBe("hello world")
    expect(ring.copyFrom(1006)).toEqual(new TextEncoder().encode("world"))
    expect(ring.readFrom(999)).toBeNull()
    expect(ring.readFrom(1012)).toBeNull()
    expect(ring.readFrom(1011)).toEqual([])
  })

  it("a long stream through a 4 MiB ring reuses its blocks (no block per frame)", () => {
    const ring = new OutputRing(0)
    const capacity = 4 * 1024 * 1024
    const seen = new Set<Uint8Array>()
    const frame = bytes(110 * 1024, 7)
    for (let i = 0; i < 1000; i++) {
      ring.appendWithin(frame, capacity)
      for (const block of blocksOf(ring)) seen.add(block)
    }
    expect(ring.size).toBe(capacity)
    // The window's blocks plus the spares: far fewer than the 1 700 blocks 110 MB would fill.
    expect(seen.size).toBeLessThanOrEqual(capacity / BLOCK_BYTES + 4)
    expect(sameBytes(ring.copyFrom(ring.end - frame.length), frame)).toBe(true)
  })

  it("an idle terminal's ring holds one block", () => {
    const ring = new OutputRing(0)
    ring.append(new TextEncoder().encode("$ "))
    expect(blocksOf(ring).length).toBe(1)
  })

  it("a ring let go hands its blocks to the next ring of the same pool", () => {
    const pool = new RingBlockPool(64)
    const first = new OutputRing(0, pool)
    first.appendWithin(bytes(4 * 1024 * 1024, 3), 4 * 1024 * 1024)
    const used = new Set(blocksOf(first))
    expect(used.size).toBe(64)
    first.release()
    expect([first.start, first.end, first.size]).toEqual([4 * 1024 * 1024, 4 * 1024 * 1024, 0])
    expect(pool.size).toBe(64)
    const second = new OutputRing(0, pool)
    second.appendWithin(bytes(4 * 1024 * 1024, 4), 4 * 1024 * 1024)
    expect(blocksOf(second).every((block) => used.has(block))).toBe(true)
    expect(pool.size).toBe(0)
    expect(sameBytes(second.copyFrom(0), bytes(4 * 1024 * 1024, 4))).toBe(true)
  })

  it("a pool keeps at most its capacity", () => {
    const pool = new RingBlockPool(2)
    const ring = new OutputRing(0, pool)
    ring.append(bytes(5 * BLOCK_BYTES, 1))
    ring.release()
    expect(pool.size).toBe(2)
  })

  it("views stay within one block and within maxChunk", () => {
    const ring = new OutputRing(5)
    ring.append(bytes(3 * BLOCK_BYTES + 100, 1))
    const parts = ring.readFrom(10, 50_000)!
    let cursor = 10
    for (const part of parts) {
      expect(part.offset).toBe(cursor)
      expect(part.data.length).toBeLessThanOrEqual(50_000)
      cursor += part.data.length
    }
    expect(cursor).toBe(ring.end)
  })

  it("holds exactly what an OffsetLog trimmed alike holds, for any appends, trims and resets", () => {
    type Step =
      | { readonly _tag: "append"; readonly length: number }
      | { readonly _tag: "trim"; readonly keep: number }
      | { readonly _tag: "within"; readonly length: number; readonly keep: number }
      | { readonly _tag: "reset"; readonly skip: number }
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 3 * BLOCK_BYTES }).map((length) => ({ _tag: "append" as const, length })) },
      { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 * BLOCK_BYTES }).map((keep) => ({ _tag: "trim" as const, keep })) },
      {
        weight: 3,
        arbitrary: fc.record({ length: fc.integer({ min: 0, max: 2 * BLOCK_BYTES }), keep: fc.integer({ min: 1, max: 4 * BLOCK_BYTES }) })
          .map(({ keep, length }) => ({ _tag: "within" as const, length, keep }))
      },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 100 }).map((skip) => ({ _tag: "reset" as const, skip })) }
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), fc.integer({ min: 0, max: 1 << 20 }), (steps, start) => {
        const ring = new OutputRing(start)
        const plain = new OffsetLog(start)
        let seed = 0
        for (const s of steps) {
          if (s._tag === "append") {
            const data = bytes(s.length, seed++)
            ring.append(data)
            plain.append(data)
          } else if (s._tag === "trim") {
            ring.trimToCapacity(s.keep)
            plain.trimToCapacity(s.keep)
          } else if (s._tag === "within") {
            const data = bytes(s.length, seed++)
            ring.appendWithin(data, s.keep)
            plain.append(data)
            plain.trimToCapacity(s.keep)
          } else {
            ring.resetTo(plain.end + s.skip)
            plain.resetTo(plain.end + s.skip)
          }
          expect([ring.start, ring.end]).toEqual([plain.start, plain.end])
          const from = ring.start + Math.floor(ring.size / 3)
          expect(sameBytes(ring.copyFrom(from), plain.copyFrom(from))).toBe(true)
          expect(ring.has(ring.start - 1)).toBe(false)
        }
      }),
      { numRuns: 80 }
    )
  })

  it("rings sharing a small pool each hold exactly what their OffsetLog holds, whatever the interleaving", () => {
    type Step =
      | { readonly _tag: "within"; readonly ring: number; readonly length: number; readonly keep: number }
      | { readonly _tag: "release"; readonly ring: number }
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          ring: fc.integer({ min: 0, max: 2 }),
          length: fc.integer({ min: 0, max: 2 * BLOCK_BYTES }),
          keep: fc.integer({ min: 1, max: 4 * BLOCK_BYTES })
        }).map((s) => ({ _tag: "within" as const, ...s }))
      },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }).map((ring) => ({ _tag: "release" as const, ring })) }
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), fc.integer({ min: 0, max: 6 }), (steps, capacity) => {
        const pool = new RingBlockPool(capacity)
        const rings = [0, 1, 2].map(() => new OutputRing(0, pool))
        const plains = [0, 1, 2].map(() => new OffsetLog(0))
        let seed = 0
        for (const s of steps) {
          const ring = rings[s.ring]!
          const plain = plains[s.ring]!
          if (s._tag === "within") {
            const data = bytes(s.length, seed++)
            ring.appendWithin(data, s.keep)
            plain.append(data)
            plain.trimToCapacity(s.keep)
          } else {
            ring.release()
            plain.resetTo(plain.end)
          }
          expect(pool.size).toBeLessThanOrEqual(capacity)
          for (let i = 0; i < rings.length; i++) {
            expect([rings[i]!.start, rings[i]!.end]).toEqual([plains[i]!.start, plains[i]!.end])
            expect(sameBytes(rings[i]!.copyFrom(rings[i]!.start), plains[i]!.copyFrom(plains[i]!.start))).toBe(true)
          }
        }
        const held = rings.flatMap(blocksOf)
        expect(new Set(held).size).toBe(held.length)
      }),
      { numRuns: 60 }
    )
  })
})

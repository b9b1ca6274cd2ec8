/**
 * A window of a terminal's output stream addressed by stream offsets: the
 * bytes from `start` (inclusive) to `end` (exclusive). The runner uses it as
 * its retransmit buffer (trimmed by the server's acknowledgements). (The
 * server's ring of recent output copies into blocks it reuses instead:
 * OutputRing.ts.)
 *
 * Chunks are kept as appended (no copying on append; callers hand over
 * buffers they no longer write to) and cut with `subarray` when trimmed, so
 * appends and trims cost O(1) amortised. Nothing is allocated up front: an
 * idle log costs a few dozen bytes.
 */

interface Chunk {
  readonly offset: number
  readonly data: Uint8Array
}

/** What a trimmed slot holds until the array is compacted (no reference to the trimmed bytes). */
const DEAD: Chunk = { offset: -1, data: new Uint8Array(0) }

/** The data of consecutive parts (views into a log) copied into one new buffer. */
export const joinParts = (parts: ReadonlyArray<{ readonly data: Uint8Array }>): Uint8Array => {
  let length = 0
  for (const part of parts) length += part.data.length
  const out = new Uint8Array(length)
  let position = 0
  for (const part of parts) {
    out.set(part.data, position)
    position += part.data.length
  }
  return out
}

export class OffsetLog {
  private chunks: Array<Chunk> = []
  /** Index of the first live chunk in `chunks` (dropped ones are compacted lazily). */
  private head = 0
  private startOffset: number
  private endOffset: number
  constructor(start = 0) {
    this.startOffset = start
    this.endOffset = start
  }

  /** The offset of the oldest byte held. */
  get start(): number {
    return this.startOffset
  }

  /** The offset the next appended byte gets. */
  get end(): number {
    return this.endOffset
  }

  /** Bytes held. */
  get size(): number {
    return this.endOffset - this.startOffset
  }

  /** Appends bytes at `end`; returns the offset of their first byte. */
  append(data: Uint8Array): number {
    const offset = this.endOffset
    if (data.length === 0) return offset
    this.endOffset += data.length
    this.chunks.push({ offset, data })
    return offset
  }

  /** Drops every byte before `offset` (clamped to the window). */
  trimTo(offset: number): void {
    const target = Math.min(Math.max(offset, this.startOffset), this.endOffset)
    while (this.head < this.chunks.length) {
      const chunk = this.chunks[this.head]!
      const chunkEnd = chunk.offset + chunk.data.length
      if (chunkEnd <= target) {
        this.chunks[this.head] = DEAD
        this.head++
        continue
      }
      if (chunk.offset < target) {
        this.chunks[this.head] = { offset: target, data: chunk.data.subarray(target - chunk.offset) }
      }
      break
    }
    this.startOffset = target
    this.compact()
  }

  /** Drops the oldest bytes until at most `capacity` remain. */
  trimToCapacity(capacity: number): void {
    if (this.size > capacity) this.trimTo(this.endOffset - capacity)
  }

  /** Forgets everything and continues at `offset` (after a gap). */
  resetTo(offset: number): void {
    this.chunks = []
    this.head = 0
    this.startOffset = offset
    this.endOffset = offset
  }

  /** Whether the bytes from `offset` to `end` are all held. */
  has(offset: number): boolean {
    return offset >= this.startOffset && offset <= this.endOffset
  }

  /**
   * The bytes from `offset` to `end`, as views into the held chunks (no
   * copies), each at most `maxChunk` long; null when `offset` is outside the
   * window.
   */
  readFrom(offset: number, maxChunk = Number.MAX_SAFE_INTEGER): ReadonlyArray<Chunk> | null {
    if (!this.has(offset)) return null
    const out: Array<Chunk> = []
    let index = this.findChunk(offset)
    let cursor = offset
    while (index < this.chunks.length) {
      const chunk = this.chunks[index]!
      let view = chunk.data.subarray(cursor - chunk.offset)
      while (view.length > 0) {
        const piece = view.length > maxChunk ? view.subarray(0, maxChunk) : view
        out.push({ offset: cursor, data: piece })
        cursor += piece.length
        view = view.subarray(piece.length)
      }
      index++
    }
    return out
  }

  /** Copies the bytes from `offset` to `end` into one buffer; null when outside the window. */
  copyFrom(offset: number): Uint8Array | null {
    const parts = this.readFrom(offset)
    return parts === null ? null : joinParts(parts)
  }

  /** The index of the chunk holding `offset` (binary search over the live chunks). */
  private findChunk(offset: number): number {
    let low = this.head
    let high = this.chunks.length
    while (low < high) {
      const middle = (low + high) >>> 1
      const chunk = this.chunks[middle]!
      if (chunk.offset + chunk.data.length <= offset) low = middle + 1
      else high = middle
    }
    return low
  }

  /**
   * Drops the references to trimmed chunks so they can be collected: at once
   * when at least half the array is dead (amortised O(1) per trim), and the
   * dead slots are cleared in the meantime (a trimmed 1 MiB chunk must not
   * stay reachable until the array is compacted).
   */
  private compact(): void {
    if (this.head === 0) return
    if (this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }
}

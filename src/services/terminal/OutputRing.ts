/**
 * The server's ring of a terminal's recent output: the last `capacity` bytes
 * of the stream, addressed by stream offsets, copied into blocks the ring
 * owns and reuses.
 *
 * Why copy: the relay's frames arrive in buffers the WebSocket allocates per
 * message. Kept by reference, every one of them lived as long as it stayed in
 * the ring (a few MiB of output: tens of milliseconds at full speed), long
 * enough for the garbage collector to promote it, and promoted buffers are
 * freed only by full collections. At tens of MB/s that was a full collection
 * every few seconds per terminal and a steady "external memory pressure" that
 * made V8 collect far more often than the heap needed. Copied, an incoming
 * frame dies young (after the viewers' sends and the transcript write), and
 * the ring's blocks are allocated once and recycled: a memcpy costs about
 * 0.1 ms per MB.
 *
 * Blocks are `BLOCK_BYTES` each and filled completely, so the block holding an
 * offset is found by arithmetic. An idle terminal holds one block; trimmed
 * blocks go to a free list for the next appends. That list is a
 * `RingBlockPool`, which the server's terminals share: a terminal that lets
 * its ring go (it ended, or the server retired it) hands its blocks to the
 * next busy one instead of leaving megabytes for the collector while the
 * next terminal allocates its own.
 *
 * Views returned by `readFrom` point into the ring's blocks and are valid
 * only until the next `append` or `resetTo`: callers copy them (into a frame)
 * before returning to the event loop.
 */

import { joinParts } from "./OffsetLog.js"

export const BLOCK_BYTES = 64 * 1024

/** Spare blocks a ring's own pool keeps (`appendWithin` frees blocks before it needs new ones). */
const SPARE_BLOCKS = 4

/**
 * Spare ring blocks, shared by the rings that are given it. It keeps at most
 * `capacity` blocks (what it is handed beyond that is left to the garbage
 * collector); what it holds is memory the process keeps, so a server sizes
 * it to about one ring.
 */
export class RingBlockPool {
  private readonly blocks: Array<Uint8Array> = []

  constructor(readonly capacity: number) {}

  /** Blocks held now. */
  get size(): number {
    return this.blocks.length
  }

  /** A spare block (its bytes are stale), or a new one. */
  take(): Uint8Array {
    return this.blocks.pop() ?? new Uint8Array(BLOCK_BYTES)
  }

  /** Takes a block back for reuse (dropped when the pool is full). */
  give(block: Uint8Array): void {
    if (this.blocks.length < this.capacity && block.length === BLOCK_BYTES) this.blocks.push(block)
  }
}

export interface RingPart {
  readonly offset: number
  readonly data: Uint8Array
}

export class OutputRing {
  /** Blocks in stream order; `blocks[0]` byte 0 is at stream offset `firstBlockOffset`. */
  private blocks: Array<Uint8Array> = []
  private firstBlockOffset: number
  private startOffset: number
  private endOffset: number
  private readonly pool: RingBlockPool

  /** `pool`: where blocks come from and go back to (default: a small one of the ring's own). */
  constructor(start = 0, pool?: RingBlockPool) {
    this.pool = pool ?? new RingBlockPool(SPARE_BLOCKS)
    this.firstBlockOffset = start
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

  /** Copies bytes in at `end`; the caller may reuse `data` afterwards. */
  append(data: Uint8Array): void {
    let from = 0
    while (from < data.length) {
      const used = this.endOffset - this.firstBlockOffset - (this.blocks.length - 1) * BLOCK_BYTES
      let block: Uint8Array
      let at: number
      if (this.blocks.length === 0 || used === BLOCK_BYTES) {
        block = this.pool.take()
        if (this.blocks.length === 0) this.firstBlockOffset = this.endOffset
        this.blocks.push(block)
        at = 0
      } else {
        block = this.blocks[this.blocks.length - 1]!
        at = used
      }
      const take = Math.min(BLOCK_BYTES - at, data.length - from)
      block.set(from === 0 && take === data.length ? data : data.subarray(from, from + take), at)
      from += take
      this.endOffset += take
    }
  }

  /**
   * Appends and keeps at most `capacity` bytes, trimming first what the
   * append will push out, so the blocks it frees are the ones it fills.
   */
  appendWithin(data: Uint8Array, capacity: number): void {
    if (data.length < capacity) this.trimToCapacity(capacity - data.length)
    this.append(data)
    this.trimToCapacity(capacity)
  }

  /** Drops the oldest bytes until at most `capacity` remain. */
  trimToCapacity(capacity: number): void {
    if (this.size <= capacity) return
    this.startOffset = this.endOffset - capacity
    let dropped = 0
    while (dropped < this.blocks.length - 1 && this.firstBlockOffset + (dropped + 1) * BLOCK_BYTES <= this.startOffset) dropped++
    if (dropped === 0) return
    for (const block of this.blocks.splice(0, dropped)) this.pool.give(block)
    this.firstBlockOffset += dropped * BLOCK_BYTES
  }

  /** Forgets everything and continues at `offset` (after a gap). */
  resetTo(offset: number): void {
    this.release()
    this.firstBlockOffset = offset
    this.startOffset = offset
    this.endOffset = offset
  }

  /** Hands every block back to the pool; the ring is empty at `end` afterwards. */
  release(): void {
    for (const block of this.blocks) this.pool.give(block)
    this.blocks = []
    const offset = this.endOffset
    this.firstBlockOffset = offset
    this.startOffset = offset
    this.endOffset = offset
  }

  /** Whether the bytes from `offset` to `end` are all held. */
  has(offset: number): boolean {
    return offset >= this.startOffset && offset <= this.endOffset
  }

  /**
   * The bytes from `offset` to `end` as views into the ring (valid until the
   * next append or reset), each at most `maxChunk` long and within one
   * block; null when `offset` is outside the window.
   */
  readFrom(offset: number, maxChunk = BLOCK_BYTES): ReadonlyArray<RingPart> | null {
    if (!this.has(offset)) return null
    const limit = Math.max(1, Math.min(maxChunk, BLOCK_BYTES))
    const out: Array<RingPart> = []
    let cursor = offset
    while (cursor < this.endOffset) {
      const relative = cursor - this.firstBlockOffset
      const index = Math.floor(relative / BLOCK_BYTES)
      const at = relative - index * BLOCK_BYTES
      const blockEnd = this.firstBlockOffset + (index + 1) * BLOCK_BYTES
      const length = Math.min(limit, BLOCK_BYTES - at, Math.min(blockEnd, this.endOffset) - cursor)
      out.push({ offset: cursor, data: this.blocks[index]!.subarray(at, at + length) })
      cursor += length
    }
    return out
  }

  /** Copies the bytes from `offset` to `end` into one new buffer; null when outside the window. */
  copyFrom(offset: number): Uint8Array | null {
    const parts = this.readFrom(offset)
    return parts === null ? null : joinParts(parts)
  }
}

/**
 * A terminal's persisted output: every byte the server received, appended to
 * `<dir>/<sessionId>.out` (mode 0600), with a small index
 * `<dir>/<sessionId>.idx` (JSON, written atomically) mapping stream offsets
 * to file positions: `{"segments":[{"offset":0,"position":0}, …]}`. A new
 * segment starts where output was lost (a gap), so stream offsets stay
 * exact across gaps and server restarts.
 *
 * Appends are queued and written in order, many chunks per `writev`: a
 * write starts once `WRITE_BATCH_BYTES` wait, or `WRITE_DELAY_MS` after the
 * first of them arrived (each write wakes a thread of libuv's pool, and at
 * full speed a frame arrives every millisecond or two), and while one is in
 * flight the next chunks wait for it;
 * `onStored` hears the stream offset up to which everything is on disk
 * (written, not fsynced: a crash of the machine may lose the last moments,
 * a crash of the server does not). The server acknowledges its runner from
 * that offset.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"

/** A write starts at once when this much is waiting … */
const WRITE_BATCH_BYTES = 512 * 1024
/** … or this long after the first waiting byte arrived. */
const WRITE_DELAY_MS = 4

export interface TranscriptSegment {
  /** The stream offset of the segment's first byte. */
  readonly offset: number
  /** Where that byte is in the `.out` file. */
  readonly position: number
}

interface TranscriptIndex {
  readonly segments: ReadonlyArray<TranscriptSegment>
}

const isIndex = (value: unknown): value is TranscriptIndex =>
  typeof value === "object" && value !== null && "segments" in value && Array.isArray(value.segments) &&
  value.segments.length > 0 &&
  value.segments.every((s: unknown) =>
    typeof s === "object" && s !== null && "offset" in s && "position" in s && Number.isSafeInteger(s.offset) &&
    Number.isSafeInteger(s.position)
  )

const writeFileAtomicSync = (path: string, content: string): void => {
  const temporary = `${path}.${process.pid}.tmp`
  NodeFs.writeFileSync(temporary, content, { mode: 0o600 })
  NodeFs.renameSync(temporary, path)
}

/** Session ids become file names: only plain characters are allowed. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/

type Pending =
  | { readonly _tag: "data"; readonly data: Uint8Array }
  | { readonly _tag: "gap"; readonly offset: number }

export class Transcript {
  private fd: number | null
  private segments: Array<TranscriptSegment>
  /** The file position after the last byte on disk. */
  private position: number
  private queue: Array<Pending> = []
  /** Bytes in `queue`. */
  private queuedBytes = 0
  private writing = false
  /** A write is due at the end of this event-loop turn. */
  private scheduled = false
  /** A write is due once the batching delay is over. */
  private delayed: NodeJS.Timeout | null = null
  private closing = false
  private storedEnd: number
  /** The stream offset after everything appended (stored or not). */
  private appendedEnd: number
  private readonly listeners: Array<(storedEnd: number, segment: TranscriptSegment) => void> = []
  private failure: Error | null = null

  private constructor(
    /** The output file (`<sessionId>.out`). */
    readonly path: string,
    private readonly indexPath: string,
    fd: number,
    segments: Array<TranscriptSegment>,
    position: number
  ) {
    this.fd = fd
    this.segments = segments
    this.position = position
    const last = segments[segments.length - 1]!
    this.storedEnd = last.offset + (position - last.position)
    this.appendedEnd = this.storedEnd
  }

  /** Opens (or creates) the transcript of `sessionId` under `dir`. */
  static open(dir: string, sessionId: string): Transcript {
    if (!SAFE_ID.test(sessionId)) throw new Error(`not a valid session id for a transcript: ${JSON.stringify(sessionId)}`)
    NodeFs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const outPath = NodePath.join(dir, `${sessionId}.out`)
    const indexPath = NodePath.join(dir, `${sessionId}.idx`)
    const fd = NodeFs.openSync(outPath, "a+", 0o600)
    const size = NodeFs.fstatSync(fd).size
    let segments: Array<TranscriptSegment> = [{ offset: 0, position: 0 }]
    try {
      const parsed: unknown = JSON.parse(NodeFs.readFileSync(indexPath, "utf8"))
      if (isIndex(parsed)) segments = [...parsed.segments]
    } catch {
      writeFileAtomicSync(indexPath, JSON.stringify({ segments }))
    }
    // A segment that starts beyond the file's end (a crash between index and data) is dropped.
    segments = segments.filter((s, i) => i === 0 || s.position <= size)
    return new Transcript(outPath, indexPath, fd, segments, size)
  }

  /** Deletes a session's transcript files (its session was deleted); missing files are fine. */
  static remove(dir: string, sessionId: string): void {
    if (!SAFE_ID.test(sessionId)) return
    for (const suffix of [".out", ".idx"]) NodeFs.rmSync(NodePath.join(dir, `${sessionId}${suffix}`), { force: true })
  }

  /** The stream offset after the last byte on disk. */
  get end(): number {
    return this.storedEnd
  }

  /** Why writing stopped, if it did (the disk is full …); nothing is acknowledged after that. */
  get error(): Error | null {
    return this.failure
  }

  /** The newest segment: where the stream continues without loss in the file. */
  get segment(): TranscriptSegment {
    return this.segments[this.segments.length - 1]!
  }

  /** Hears every advance of the stored end (and every new segment), with the newest segment. */
  onStored(listener: (storedEnd: number, segment: TranscriptSegment) => void): void {
    this.listeners.push(listener)
  }

  /** Appends the next bytes of the stream. */
  append(data: Uint8Array): void {
    if (this.fd === null || this.closing || data.length === 0) return
    this.queue.push({ _tag: "data", data })
    this.queuedBytes += data.length
    this.appendedEnd += data.length
    this.schedule(this.queuedBytes >= WRITE_BATCH_BYTES)
  }

  /** Output was lost: the stream continues at `offset` (after everything appended so far). */
  gap(offset: number): void {
    if (this.fd === null || this.closing) return
    this.queue.push({ _tag: "gap", offset })
    this.appendedEnd = offset
    this.schedule(true)
  }

  /**
   * The last at most `maxBytes` on disk of the newest segment (to rebuild a
   * screen from): `offset` is the stream offset of `data[0]`.
   */
  tail(maxBytes: number): { readonly offset: number; readonly data: Uint8Array } {
    const last = this.segments[this.segments.length - 1]!
    const length = Math.min(this.position - last.position, maxBytes)
    const data = new Uint8Array(length)
    if (length > 0 && this.fd !== null) NodeFs.readSync(this.fd, data, 0, length, this.position - length)
    return { offset: this.storedEnd - length, data }
  }

  /** Whether the byte at stream offset `offset` is on disk in the newest segment. */
  holds(offset: number): boolean {
    return this.fd !== null && offset >= this.segment.offset && offset < this.storedEnd
  }

  /** Whether the byte at `offset` was appended and is still on its way to disk (it will be stored unless a write fails). */
  writingAt(offset: number): boolean {
    return this.fd !== null && this.failure === null && offset >= this.storedEnd && offset < this.appendedEnd
  }

  /**
   * Up to `maxBytes` of the stored stream from `offset`, or null when the
   * newest segment does not hold that offset on disk (yet).
   */
  read(offset: number, maxBytes: number): Uint8Array | null {
    if (!this.holds(offset) || maxBytes <= 0 || this.fd === null) return null
    const segment = this.segment
    const length = Math.min(maxBytes, this.storedEnd - offset)
    const data = Buffer.allocUnsafe(length)
    const got = NodeFs.readSync(this.fd, data, 0, length, segment.position + (offset - segment.offset))
    return got > 0 ? data.subarray(0, got) : null
  }

  /** Closes the file once everything appended is written. */
  close(): void {
    this.closing = true
    if (this.writing || this.scheduled) return
    if (this.queue.length > 0) this.schedule(true)
    else this.closeNow()
  }

  private closeNow(): void {
    if (this.fd === null) return
    NodeFs.closeSync(this.fd)
    this.fd = null
  }

  private notify(): void {
    const segment = this.segment
    for (const listener of this.listeners) listener(this.storedEnd, segment)
  }

  /**
   * Writes what was appended, at the end of this turn when `now` (a batch's
   * worth waits, a gap, closing), else after the batching delay (unless a
   * write in flight picks it up first).
   */
  private schedule(now: boolean): void {
    if (this.writing || this.scheduled) return
    if (!now) {
      this.delayed ??= setTimeout(() => {
        this.delayed = null
        this.pump()
      }, WRITE_DELAY_MS)
      return
    }
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.pump()
    })
  }

  private pump(): void {
    if (this.delayed !== null) clearTimeout(this.delayed)
    this.delayed = null
    if (this.writing || this.fd === null) return
    if (this.failure !== null) {
      if (this.closing) this.closeNow()
      return
    }
    while (this.queue[0]?._tag === "gap") {
      const gap = this.queue.shift() as { readonly offset: number }
      this.segments.push({ offset: gap.offset, position: this.position })
      this.storedEnd = gap.offset
      writeFileAtomicSync(this.indexPath, JSON.stringify({ segments: this.segments }))
      this.notify()
    }
    const buffers: Array<Uint8Array> = []
    let bytes = 0
    while (this.queue[0]?._tag === "data" && buffers.length < 1024) {
      const next = this.queue.shift() as { readonly data: Uint8Array }
      buffers.push(next.data)
      bytes += next.data.length
    }
    this.queuedBytes -= bytes
    if (buffers.length === 0) {
      if (this.closing) this.closeNow()
      return
    }
    this.writing = true
    NodeFs.writev(this.fd, buffers, this.position, (error, written) => {
      this.writing = false
      if (error !== null || written !== bytes) {
        this.failure = error ?? new Error(`short write (${written} of ${bytes} bytes)`)
        if (this.closing) this.closeNow()
        return
      }
      this.position += bytes
      this.storedEnd += bytes
      this.notify()
      this.pump()
    })
  }
}

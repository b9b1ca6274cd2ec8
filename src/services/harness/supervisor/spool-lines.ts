/**
 * Splits a spool file's bytes into lines while tracking, for each line, the
 * byte offset just after it (including its newline). That offset is what the
 * runner records with the line's event, so a restarted runner continues
 * reading exactly after the last recorded line. Pure; no I/O.
 *
 * Lines end at `\n` (a `\r` before it is dropped). Lines longer than `max`
 * bytes are cut into pieces of at most `max` bytes at UTF-8 character
 * boundaries, each with its own end offset; an unterminated tail longer than
 * `max` is cut the same way while waiting for the rest.
 */
export interface SpoolLine {
  readonly text: string
  /** Byte offset in the file just after this line (or piece). */
  readonly end: number
}

/** The largest length ≤ `max` that does not split a UTF-8 sequence of `bytes` (at least 1). */
const boundary = (bytes: Buffer, max: number): number => {
  let cut = Math.min(max, bytes.length)
  // A continuation byte (10xxxxxx) cannot start a character: move back to the sequence's start.
  while (cut > 0 && cut < bytes.length && (bytes[cut]! & 0xc0) === 0x80) cut--
  return cut === 0 ? Math.min(max, bytes.length) : cut
}

export class SpoolLines {
  private pending: Buffer = Buffer.alloc(0)

  /** `start`: the offset reading starts at (the last recorded position). */
  constructor(private consumed: number, private readonly max: number) {
    if (!Number.isInteger(max) || max < 4) throw new RangeError(`max must be an integer ≥ 4, got ${max}`)
  }

  /** Where the next read starts: everything before it was pushed. */
  get readPosition(): number {
    return this.consumed + this.pending.length
  }

  push(chunk: Uint8Array): ReadonlyArray<SpoolLine> {
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk])
    const lines: Array<SpoolLine> = []
    for (;;) {
      const newline = this.pending.indexOf(0x0a)
      if (newline === -1) {
        // A trailing `\r` may be the first half of a CRLF: it counts once the next byte shows it is not
        // (else a line of exactly `max` bytes would be cut or not depending on where a read ended).
        while (this.pending.length - (this.pending[this.pending.length - 1] === 0x0d ? 1 : 0) > this.max) {
          this.take(boundary(this.pending, this.max), 0, lines)
        }
        break
      }
      let end = newline // index of the `\n` in `pending`
      let body = end > 0 && this.pending[end - 1] === 0x0d ? end - 1 : end
      while (body > this.max) {
        const cut = boundary(this.pending.subarray(0, body), this.max)
        this.take(cut, 0, lines)
        body -= cut
        end -= cut
      }
      this.take(body, end + 1 - body, lines)
    }
    return lines
  }

  /** The unterminated last line, if any (once the file is complete). */
  flush(): ReadonlyArray<SpoolLine> {
    const lines: Array<SpoolLine> = []
    if (this.pending.length > 0) this.take(this.pending.length, 0, lines)
    return lines
  }

  /** Emits the first `length` bytes as a line and consumes `extra` more (the line ending). */
  private take(length: number, extra: number, into: Array<SpoolLine>): void {
    const text = this.pending.toString("utf8", 0, length)
    this.consumed += length + extra
    this.pending = this.pending.subarray(length + extra)
    into.push({ text, end: this.consumed })
  }
}

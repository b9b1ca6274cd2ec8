/**
 * Which terminal output a screen mirror may skip without changing what it
 * shows afterwards.
 *
 * Parsing output with headless xterm costs about 15–20 ms of CPU per MB, far
 * more than relaying it. Most of a big burst of output (a build log, `cat` of
 * a large file) cannot matter to the final screen: it scrolls out of the
 * scrollback before anyone looks. This module finds the bytes that provably
 * cannot matter, so the mirror parses only the rest.
 *
 * The argument. Call output *simple* if it consists only of printable text,
 * CR, LF/VT/FF, TAB, BEL, DEL, SGR (`CSI … m`, colours and attributes) and EL
 * (`CSI [0-2] K`, erase in line). Simple output changes only cells, the cursor
 * and the SGR attributes: no mode, margin, tab stop, charset, title or buffer
 * switch. Let the mirror stand at offset `a` (its parser in the ground state)
 * and let everything from `a` to a later point `e` be simple. For a cut `c`
 * in between, parsing `[a, c)` can be replaced by a short *prelude* that
 * leaves the same SGR attributes and cursor column (the SGR sequences of
 * `[a, c)`, then CR and as many spaces as the column). The two runs then
 * differ only in cell contents and in the cursor row. If `[c, e)` moves the
 * cursor down at least `scrollback + 2 × rows + 1` lines (line feeds and
 * automatic wraps), the rows agree after at most `rows` of them (a line feed
 * moves down or scrolls, identically in both runs once at the bottom) and
 * every line that differed is pushed out of the scrollback by the rest. From
 * `e` on both runs are identical. The mirror must also have autowrap on, no
 * LF-implies-CR, and a full-screen scroll region; it checks that before it
 * skips (`planSkip`).
 *
 * The scanner reads every output byte once (a few ns per byte: no
 * allocation, no decoding beyond UTF-8 lead bytes) and models xterm's parser
 * state conservatively: anything it does not fully understand is *unsafe*
 * and must be parsed. It records *marks* (every 64 KiB and wherever asked):
 * counters and cursor facts at that offset, from which `planSkip` chooses a
 * cut.
 *
 * Counting line advances is a lower bound: line feeds count one each, and a
 * stretch of `n` width-1 characters without a line break wraps at least
 * `floor((n - 1) / cols)` times whatever column it starts in. A mark inside a
 * stretch can overcount by one for the stretch it splits; `planSkip`
 * subtracts one.
 */

export interface ScanMark {
  /** Stream offset of the mark. */
  readonly offset: number
  /** xterm's parser is in its ground state here and no UTF-8 sequence is open. */
  readonly ground: boolean
  /** The offset after the last byte of unsafe output before this mark (everything before must be parsed). */
  readonly unsafeEnd: number
  /** Line feeds (LF, VT, FF) since the scanner started. */
  readonly lineFeeds: number
  /** Automatic wraps since the scanner started, a lower bound. */
  readonly wraps: number
  /** Width-1 characters (printable ASCII) since the scanner started. */
  readonly printables: number
  /** The cursor column, exactly, when the output since the last CR determines it; else null. */
  readonly column: number | null
  /** The offset since which only width-1 characters, SGR, BEL and DEL came (the column moved by `printables` alone). */
  readonly printOnlySince: number
  /** SGR sequences between the previous mark and this one (after the last full reset among them). */
  readonly sgr: ReadonlyArray<Uint8Array>
  /** Whether one of those SGR sequences reset every attribute (earlier ones no longer matter). */
  readonly sgrReset: boolean
}

const enum State {
  Ground,
  Escape,
  EscapeIntermediate,
  Csi,
  /** OSC, DCS, SOS, PM, APC: until ST (ESC \ or C1 ST), BEL (OSC), CAN or SUB. */
  String
}

const ESC = 0x1b
const CAN = 0x18
const SUB = 0x1a
const BEL = 0x07
const TAB = 0x09
const LF = 0x0a
const VT = 0x0b
const FF = 0x0c
const CR = 0x0d
const DEL = 0x7f

/** Marks are recorded at least this often. */
export const MARK_INTERVAL = 64 * 1024
/** Longest CSI sequence the scanner keeps to classify (longer ones are unsafe). */
const MAX_CSI = 64
/** SGR sequences kept per mark interval; beyond that the interval is unsafe. */
const MAX_SGR_PER_MARK = 256

export class OutputScanner {
  private position: number
  private cols: number
  private state = State.Ground
  /** UTF-8 continuation bytes still expected, and the lead byte of the open sequence. */
  private utf8Need = 0
  private utf8Lead = 0
  /** Whether the string being skipped is an OSC (BEL ends it). */
  private stringIsOsc = false
  private csi = new Uint8Array(MAX_CSI)
  private csiLength = 0
  private csiOverflow = false
  private csiUnsafe = false
  private unsafeEndOffset: number
  private lineFeeds = 0
  private wraps = 0
  private printables = 0
  private stretch = 0
  private column: number | null = null
  private printOnlySince: number
  private sgr: Array<Uint8Array> = []
  private sgrReset = false
  private lastMark: number
  private readonly recorded: Array<ScanMark> = []

  /**
   * Starts scanning at stream offset `start`, where xterm's parser is in its
   * ground state (a fresh mirror, or one that was just reset).
   */
  constructor(start: number, cols: number, private readonly markInterval = MARK_INTERVAL) {
    this.position = start
    this.cols = cols
    this.unsafeEndOffset = start
    this.printOnlySince = start
    this.lastMark = start
    this.mark()
  }

  /** The offset after the last byte scanned. */
  get offset(): number {
    return this.position
  }

  /** The offset after the last unsafe output (everything before it must be parsed). */
  get unsafeEnd(): number {
    return this.unsafeEndOffset
  }

  /** Marks recorded and not yet dropped, in offset order. */
  get marks(): ReadonlyArray<ScanMark> {
    return this.recorded
  }

  /** The newest mark (there is always one). */
  get latest(): ScanMark {
    return this.recorded[this.recorded.length - 1]!
  }

  /** Scans the next bytes of the stream. */
  feed(data: Uint8Array): void {
    // Runs of printable ASCII are checked four bytes at a time through an aligned 32-bit view.
    const wordStart = (4 - (data.byteOffset & 3)) & 3
    const words = new Uint32Array(data.buffer, data.byteOffset + wordStart, Math.max(0, (data.length - wordStart) >> 2))
    let start = 0
    while (start < data.length) {
      const room = this.lastMark + this.markInterval - this.position
      const end = Math.min(data.length, start + Math.max(1, room))
      let i = start
      while (i < end) {
        if (this.state === State.Ground && this.utf8Need === 0) {
          const runEnd = printableRunEnd(data, words, wordStart, i, end)
          if (runEnd > i) {
            this.printRun(runEnd - i)
            i = runEnd
            continue
          }
        }
        this.step(data[i]!, this.position + i - start + 1)
        i++
      }
      this.position += end - start
      start = end
      if (this.position - this.lastMark >= this.markInterval) this.mark()
    }
  }

  /** `n` printable ASCII characters in the ground state. */
  private printRun(n: number): void {
    const cols = this.cols
    const before = this.stretch
    const after = before + n
    // A stretch of k width-1 characters wraps at least floor((k - 1) / cols) times.
    this.wraps += (after > 0 ? Math.floor((after - 1) / cols) : 0) - (before > 0 ? Math.floor((before - 1) / cols) : 0)
    this.stretch = after
    this.printables += n
    if (this.column !== null) this.column = columnAfter(this.column, n, cols)
  }

  /** Records a mark at the current offset (once per offset) and returns it. */
  mark(): ScanMark {
    const latest = this.recorded[this.recorded.length - 1]
    if (latest !== undefined && latest.offset === this.position) return latest
    const mark: ScanMark = {
      offset: this.position,
      ground: this.state === State.Ground && this.utf8Need === 0,
      unsafeEnd: this.unsafeEndOffset,
      lineFeeds: this.lineFeeds,
      wraps: this.wraps,
      printables: this.printables,
      column: this.column,
      printOnlySince: this.printOnlySince,
      sgr: this.sgr,
      sgrReset: this.sgrReset
    }
    this.sgr = []
    this.sgrReset = false
    this.lastMark = this.position
    this.recorded.push(mark)
    return mark
  }

  /** Forgets marks before `offset` (keeping the last one at or before it). */
  dropBefore(offset: number): void {
    let keep = 0
    while (keep + 1 < this.recorded.length && this.recorded[keep + 1]!.offset <= offset) keep++
    if (keep > 0) this.recorded.splice(0, keep)
  }

  /**
   * The terminal's width changes here: everything before must be parsed
   * (column facts and wrap counts were for the old width).
   */
  resize(cols: number): void {
    this.cols = cols
    this.unsafeHere()
    this.mark()
  }

  /** Everything up to the current offset must be parsed. */
  private unsafeHere(): void {
    this.unsafeEndOffset = this.position
    this.breakLine(this.position)
    this.column = null
  }

  private breakLine(next: number): void {
    this.stretch = 0
    this.printOnlySince = next
  }

  private unsafe(next: number): void {
    this.unsafeEndOffset = next
    this.stretch = 0
    this.printOnlySince = next
    this.column = null
  }

  /** One byte; `next` is the offset after it. */
  private step(byte: number, next: number): void {
    if (this.utf8Need > 0) {
      if (byte >= 0x80 && byte <= 0xbf) {
        const lead = this.utf8Lead
        this.utf8Need--
        if (lead === 0xc2 && this.utf8Need === 0 && byte <= 0x9f) {
          this.c1(byte, next)
          return
        }
        if (this.utf8Need === 0 && this.state === State.Ground) this.wideOrUnknown(next)
        return
      }
      // A sequence cut short: xterm's decoder drops it; the byte is read afresh.
      this.utf8Need = 0
      this.unsafe(next)
    }
    if (byte >= 0x80) {
      this.utf8Start(byte, next)
      return
    }
    switch (this.state) {
      case State.Ground:
        this.ground(byte, next)
        return
      case State.Escape:
        this.escape(byte, next)
        return
      case State.EscapeIntermediate:
        if (this.anywhere(byte, next)) return
        if (byte >= 0x20 && byte <= 0x2f) return
        if (byte < 0x20) return // executed in place
        this.state = State.Ground
        this.unsafe(next)
        return
      case State.Csi:
        this.csiByte(byte, next)
        return
      case State.String:
        this.stringByte(byte, next)
        return
    }
  }

  private utf8Start(byte: number, next: number): void {
    if (byte >= 0xc2 && byte <= 0xdf) this.utf8Need = 1
    else if (byte >= 0xe0 && byte <= 0xef) this.utf8Need = 2
    else if (byte >= 0xf0 && byte <= 0xf4) this.utf8Need = 3
    else {
      this.unsafe(next) // not a lead byte: invalid UTF-8
      return
    }
    this.utf8Lead = byte
    if (this.state === State.Ground) {
      // A character of unknown width: the column is unknown until the next CR.
      this.breakLine(next)
      this.column = null
    } else if (this.state === State.Csi) {
      this.csiUnsafe = true
    }
  }

  /** A complete non-ASCII character in the ground state. */
  private wideOrUnknown(next: number): void {
    this.breakLine(next)
    this.column = null
  }

  /** A C1 control (U+0080–U+009F, written in UTF-8): never simple. */
  private c1(low: number, next: number): void {
    switch (low) {
      case 0x9b:
        this.enterCsi()
        this.csiUnsafe = true
        break
      case 0x9d:
        this.state = State.String
        this.stringIsOsc = true
        break
      case 0x90:
      case 0x98:
      case 0x9e:
      case 0x9f:
        this.state = State.String
        this.stringIsOsc = false
        break
      case 0x9c:
        this.state = State.Ground
        break
      default:
        break
    }
    this.unsafe(next)
  }

  /** Transitions from any state: CAN and SUB abort a sequence, ESC starts one. */
  private anywhere(byte: number, next: number): boolean {
    if (byte === CAN || byte === SUB) {
      this.state = State.Ground
      this.unsafe(next)
      return true
    }
    if (byte === ESC) {
      this.state = State.Escape
      this.unsafe(next)
      return true
    }
    return false
  }

  private ground(byte: number, next: number): void {
    if (byte >= 0x20 && byte < DEL) {
      this.printRun(1)
      return
    }
    switch (byte) {
      case CR:
        this.column = 0
        this.breakLine(next)
        return
      case LF:
      case VT:
      case FF:
        this.lineFeeds++
        if (this.column !== null && this.column >= this.cols) this.column = this.cols - 1
        this.breakLine(next)
        return
      case TAB:
        this.column = null
        this.breakLine(next)
        return
      case BEL:
      case DEL:
        return
      case ESC:
        this.state = State.Escape
        // Unsafe until it turns out to be SGR or EL; the column facts stay until then.
        return
      default:
        this.unsafe(next) // BS, NUL, SO/SI, ENQ, CAN, SUB …
    }
  }

  private escape(byte: number, next: number): void {
    if (byte === CAN || byte === SUB || byte === ESC) {
      this.anywhere(byte, next)
      return
    }
    if (byte === 0x5b) {
      this.enterCsi()
      return
    }
    if (byte < 0x20) {
      this.unsafe(next) // executed in place (xterm stays in ESCAPE)
      return
    }
    if (byte === 0x5d) {
      this.state = State.String
      this.stringIsOsc = true
    } else if (byte === 0x50 || byte === 0x58 || byte === 0x5e || byte === 0x5f) {
      this.state = State.String
      this.stringIsOsc = false
    } else if (byte >= 0x20 && byte <= 0x2f) {
      this.state = State.EscapeIntermediate
    } else {
      this.state = State.Ground // ESC final: RIS, DECSC, charsets …
    }
    this.unsafe(next)
  }

  private enterCsi(): void {
    this.state = State.Csi
    this.csiLength = 0
    this.csiOverflow = false
    this.csiUnsafe = false
  }

  private csiByte(byte: number, next: number): void {
    if (this.anywhere(byte, next)) return
    if (byte < 0x20) {
      this.csiUnsafe = true // executed inside the sequence
      return
    }
    if (this.csiLength < MAX_CSI) this.csi[this.csiLength++] = byte
    else this.csiOverflow = true
    if (byte < 0x40 || byte > 0x7e) return
    this.state = State.Ground
    this.finishCsi(byte, next)
  }

  private finishCsi(final: number, next: number): void {
    if (this.csiUnsafe || this.csiOverflow) {
      this.unsafe(next)
      return
    }
    const length = this.csiLength
    const params = this.csi.subarray(0, length - 1)
    if (final === 0x6d && params.every((b) => (b >= 0x30 && b <= 0x39) || b === 0x3b || b === 0x3a)) {
      this.recordSgr(params, next)
      return
    }
    if (final === 0x4b && (params.length === 0 || (params.length === 1 && params[0]! >= 0x30 && params[0]! <= 0x32))) {
      // Erase in line: cells only, but xterm may pull a pending-wrap cursor back a column.
      this.column = null
      this.breakLine(next)
      return
    }
    this.unsafe(next)
  }

  private recordSgr(params: Uint8Array, next: number): void {
    let first = 0
    while (first < params.length && params[first] !== 0x3b) first++
    const firstParam = params.subarray(0, first)
    if (firstParam.every((b) => b === 0x30)) {
      // `CSI m`, `CSI 0 m`, `CSI 0;… m`: every attribute back to default first.
      this.sgr = []
      this.sgrReset = true
    }
    if (this.sgr.length >= MAX_SGR_PER_MARK) {
      this.unsafe(next)
      return
    }
    const sequence = new Uint8Array(params.length + 3)
    sequence[0] = ESC
    sequence[1] = 0x5b
    sequence.set(params, 2)
    sequence[sequence.length - 1] = 0x6d
    this.sgr.push(sequence)
  }

  private stringByte(byte: number, next: number): void {
    if (this.anywhere(byte, next)) return
    if (byte === BEL && this.stringIsOsc) {
      this.state = State.Ground
      this.unsafe(next)
    }
  }
}

/**
 * The end of the run of printable ASCII (0x20–0x7E) in `data` from `from`
 * (at most `to`). `words` views `data` from index `wordStart` on, aligned.
 */
const printableRunEnd = (data: Uint8Array, words: Uint32Array, wordStart: number, from: number, to: number): number => {
  let j = from
  while (j < to && ((j - wordStart) & 3) !== 0) {
    const byte = data[j]!
    if (byte < 0x20 || byte > 0x7e) return j
    j++
  }
  if (j < wordStart) return j
  let w = (j - wordStart) >> 2
  const wordsEnd = (to - wordStart) >> 2
  while (w < wordsEnd) {
    const x = words[w]!
    // Some byte below 0x20, or above 0x7E (0x7F and everything from 0x80).
    if ((((x - 0x20202020) & ~x) | ((x + 0x01010101) | x)) & 0x80808080) break
    w++
  }
  j = wordStart + (w << 2)
  while (j < to) {
    const byte = data[j]!
    if (byte < 0x20 || byte > 0x7e) return j
    j++
  }
  return j
}

/** What `planSkip` needs to know of the mirror (xterm) at its current offset. */
export interface MirrorFacts {
  /** The offset the mirror has parsed up to. */
  readonly parsedEnd: number
  readonly cols: number
  readonly rows: number
  readonly scrollback: number
  /** The cursor column, 0 … cols (cols: a wrap is pending). */
  readonly cursorX: number
  readonly autowrap: boolean
  /** LF also returns the carriage (xterm's convertEol / LNM). */
  readonly lineFeedReturns: boolean
  /** The scroll region is the whole screen. */
  readonly fullScrollRegion: boolean
}

export interface SkipPlan {
  /** Where parsing resumes. */
  readonly cut: number
  /** Written instead of the skipped bytes: the SGR state and the cursor column at the cut. */
  readonly prelude: Uint8Array
}

/** Skipping less than this is not worth a plan. */
export const MIN_SKIP_BYTES = 64 * 1024
/** Candidate cuts examined, at most, per plan. */
const MAX_CANDIDATES = 64

/** The cursor column after `n` width-1 characters from column `x` (autowrap on). */
export const columnAfter = (x: number, n: number, cols: number): number =>
  n === 0 ? x : (((x >= cols ? 0 : x) + n - 1) % cols) + 1

/**
 * A cut that makes parsing `[facts.parsedEnd, cut)` unnecessary for the state
 * at `target`, or null when none is provable. `marks` are the scanner's marks
 * (offset order); `target` is where the mirror must be exact.
 */
export const planSkip = (
  marks: ReadonlyArray<ScanMark>,
  facts: MirrorFacts,
  target: number,
  minSkipBytes = MIN_SKIP_BYTES
): SkipPlan | null => {
  if (!facts.autowrap || facts.lineFeedReturns || !facts.fullScrollRegion) return null
  const startIndex = indexAt(marks, facts.parsedEnd)
  if (startIndex < 0) return null
  const start = marks[startIndex]!
  if (!start.ground) return null
  let endIndex = marks.length - 1
  while (endIndex > startIndex && marks[endIndex]!.offset > target) endIndex--
  const end = marks[endIndex]!
  if (end.unsafeEnd > facts.parsedEnd || end.offset - start.offset < minSkipBytes) return null
  const needed = facts.scrollback + 2 * facts.rows + 1
  const advances = (m: ScanMark) => end.lineFeeds - m.lineFeeds + end.wraps - m.wraps - 1
  // The latest cut with enough advances after it: advances shrink as the cut moves on.
  let low = startIndex + 1
  let high = endIndex
  let latest = -1
  while (low <= high) {
    const middle = (low + high) >> 1
    if (advances(marks[middle]!) >= needed) {
      latest = middle
      low = middle + 1
    } else {
      high = middle - 1
    }
  }
  if (latest < 0) return null
  for (let i = latest; i > startIndex && i > latest - MAX_CANDIDATES; i--) {
    const cut = marks[i]!
    if (cut.offset - start.offset < minSkipBytes) return null
    if (!cut.ground) continue
    const column = cut.column ?? (cut.printOnlySince <= facts.parsedEnd
      ? columnAfter(facts.cursorX, cut.printables - start.printables, facts.cols)
      : null)
    if (column === null || column > facts.cols) continue
    return { cut: cut.offset, prelude: prelude(marks, startIndex, i, column) }
  }
  return null
}

/** The index of the mark at exactly `offset`, or -1. */
const indexAt = (marks: ReadonlyArray<ScanMark>, offset: number): number => {
  let low = 0
  let high = marks.length - 1
  while (low <= high) {
    const middle = (low + high) >> 1
    const at = marks[middle]!.offset
    if (at === offset) return middle
    if (at < offset) low = middle + 1
    else high = middle - 1
  }
  return -1
}

/** The SGR sequences of the marks after `from` up to `to`, then CR and `column` spaces. */
const prelude = (marks: ReadonlyArray<ScanMark>, from: number, to: number, column: number): Uint8Array => {
  let first = from + 1
  for (let i = to; i > from; i--) {
    if (marks[i]!.sgrReset) {
      first = i
      break
    }
  }
  const parts: Array<Uint8Array> = []
  let length = 1 + column
  for (let i = first; i <= to; i++) {
    for (const sequence of marks[i]!.sgr) {
      parts.push(sequence)
      length += sequence.length
    }
  }
  const out = new Uint8Array(length)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  out[at++] = CR
  out.fill(0x20, at)
  return out
}

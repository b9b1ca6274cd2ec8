/**
 * The server's copy of a terminal's screen: a headless xterm (screen,
 * scrollback, modes, alternate buffer) and its serialize addon, which turns
 * that state into a SNAPSHOT a joining viewer writes into a fresh terminal
 * to see exactly the same thing.
 *
 * The mirror is lazy and off the relay's path. It reads the output from the
 * transcript file (the relay tells it how far the file holds the stream),
 * scans every byte cheaply (`OutputScanner`), and parses with xterm only
 * what can still matter:
 * - output the scanner cannot vouch for (cursor addressing, modes, titles …)
 *   is parsed promptly, in order;
 * - plain output (text, line breaks, colours) is left unparsed until a
 *   snapshot is asked for, output goes quiet, or `lagBytes` of it wait;
 *   then whatever of it provably scrolls out of the scrollback is skipped
 *   (`planSkip`) and only the rest is parsed.
 * A snapshot at offset N is exactly the screen after the first N bytes:
 * snapshots, resizes and resets (lost output) are queued in stream order.
 * Once output has been quiet for `idleMs` the mirror catches up and
 * serializes ahead of time, so a viewer joining then gets its snapshot at
 * once.
 *
 * With a scrollback longer than 1 000 rows, xterm holds only the newest
 * 1 000 as cells and older rows are kept as text (`CompactScrollback`):
 * about 6 MB instead of 15.5 for a full 10 000-row scrollback of a build
 * log, and snapshots that serialize only what xterm holds.
 */
import * as NodeFs from "node:fs"
import { SerializeAddon } from "@xterm/addon-serialize"
import { Terminal } from "@xterm/headless"
import { CompactScrollback } from "./CompactScrollback.js"
import { MARK_INTERVAL, MIN_SKIP_BYTES, type MirrorFacts, OutputScanner, planSkip } from "./OutputScanner.js"

export interface MirrorSnapshot {
  /** The stream offset the snapshot corresponds to (every earlier byte is applied). */
  readonly offset: number
  readonly cols: number
  readonly rows: number
  /** Serialized screen and scrollback (escape sequences), UTF-8 text. */
  readonly data: string
}

/** Where a stretch of the stream without loss starts in the transcript file. */
export interface MirrorSegment {
  /** Stream offset of the segment's first byte. */
  readonly offset: number
  /** Its position in the file. */
  readonly position: number
}

export interface TerminalMirrorOptions {
  readonly cols: number
  readonly rows: number
  /** Lines of scrollback kept (default 10 000). */
  readonly scrollback?: number
  /** The transcript's output file, read from here. */
  readonly file: string
  /** The file's newest segment when the mirror starts. */
  readonly segment: MirrorSegment
  /** The first offset to parse (default: the segment's start); the screen is rebuilt from there. */
  readonly startOffset?: number
  /**
   * Catch up and serialize ahead of time once output has been quiet for
   * `idleMs` (default 150), so a viewer joining then gets its snapshot at
   * once instead of waiting for a scrollback's serialization.
   */
  readonly precompute?: { readonly maxBytes: number; readonly idleMs?: number }
  /** Plain output left unparsed, at most (default 256 MiB: it costs no memory, it is on disk, and skipping makes catching up cheap whatever its size). */
  readonly lagBytes?: number
  /** Scanner mark spacing and the least worth skipping (defaults 64 KiB each; tests use tiny ones). */
  readonly skipTuning?: { readonly markInterval: number; readonly minSkipBytes: number }
  /**
   * Scrollback rows xterm holds as cells (default 1 000); with a longer
   * scrollback, older rows are kept as text (`CompactScrollback`), serialized
   * `batchRows` (default 256) at a time.
   */
  readonly compact?: { readonly hotRows: number; readonly batchRows?: number }
}

/** Scrollback rows xterm holds as cells when the scrollback is longer (about 1 kB a row at 80 columns). */
const HOT_ROWS = 1000
const BATCH_ROWS = 256

/**
 * What the relay needs of a screen mirror: this in-thread one, or its twin in
 * a worker thread (`MirrorWorker.ts`).
 */
export interface ScreenMirror {
  /** Output the mirror must still scan or parse before it could answer a snapshot quickly. */
  readonly backlog: number
  /** The transcript holds the stream up to `end`; `segment` is its newest segment. */
  readonly stored: (end: number, segment: MirrorSegment) => void
  /** Output was lost: the stream continues at `offset` (a new transcript segment) from a blank screen. */
  readonly resetAt: (offset: number) => void
  /** The terminal takes this size at stream offset `offset`. */
  readonly resize: (offset: number, cols: number, rows: number) => void
  /** The screen after exactly the stream's first `offset` bytes, once they are stored. */
  readonly snapshot: (offset: number, onReady: (snapshot: MirrorSnapshot) => void, maxBytes?: number) => void
  /** Called whenever the backlog shrank. */
  readonly onProgress: (listener: () => void) => void
  /** Called once if the mirror breaks (its snapshots are empty from then on). */
  readonly onFailure: (listener: (message: string) => void) => void
  readonly dispose: () => void
}

export type ScreenMirrorFactory = (options: TerminalMirrorOptions) => ScreenMirror

/** Snapshots are precomputed at most this often (more rarely when serializing is slow). */
const MIN_PRECOMPUTE_INTERVAL_MS = 1000

/** Bytes read and handed to xterm at a time. */
const READ_BYTES = 1 << 20

type Operation =
  | {
    readonly _tag: "snapshot"
    readonly offset: number
    readonly maxBytes: number
    readonly onReady: (snapshot: MirrorSnapshot) => void
  }
  | { readonly _tag: "resize"; readonly offset: number; readonly cols: number; readonly rows: number }
  | { readonly _tag: "reset"; readonly offset: number }

export class TerminalMirror implements ScreenMirror {
  private readonly terminal: Terminal
  private readonly serializer: SerializeAddon
  private readonly scrollback: number
  /** Older scrollback kept as text, when the scrollback is longer than xterm's share of it. */
  private readonly compact: CompactScrollback | null
  private readonly lagBytes: number
  private readonly markInterval: number
  private readonly minSkipBytes: number
  private readonly precompute: { readonly maxBytes: number; readonly idleMs: number } | null
  private fd: number | null
  /** Where file reads land while output flows; released once the mirror is quiet and caught up (idle terminals stay small). */
  private readBuffer: Uint8Array | null = null
  /** Segments heard of, oldest first; `current` is the one being read. */
  private readonly segments: Array<MirrorSegment>
  private current = 0
  /** The newest segment's stored end. */
  private storedEnd: number
  private parsedEnd: number
  private scanner: OutputScanner
  private readonly operations: Array<Operation> = []
  private driving = false
  private quiet = false
  private idleTimer: NodeJS.Timeout | null = null
  private cached: { readonly maxBytes: number; readonly snapshot: MirrorSnapshot } | null = null
  private progressListener: (() => void) | null = null
  private failureListener: ((message: string) => void) | null = null
  private disposed = false
  private lastPrecomputeAt = 0
  private lastSerializeMs = 0
  /** Why the mirror stopped, if it did. */
  private broken: Error | null = null
  /** Bytes parsed by xterm and bytes skipped (diagnostics, tests, benchmarks). */
  readonly stats = { parsed: 0, skipped: 0, skips: 0 }

  constructor(options: TerminalMirrorOptions) {
    this.scrollback = options.scrollback ?? 10_000
    const hotRows = Math.max(2, options.compact?.hotRows ?? HOT_ROWS)
    const compact = this.scrollback > hotRows
    this.terminal = new Terminal({
      cols: options.cols,
      rows: options.rows,
      scrollback: compact ? hotRows : this.scrollback,
      allowProposedApi: true,
      // Programs print malformed sequences; xterm would log each one.
      logLevel: "off"
    })
    this.serializer = new SerializeAddon()
    this.terminal.loadAddon(this.serializer)
    this.compact = compact
      ? new CompactScrollback(this.terminal, {
        scrollback: this.scrollback,
        hotRows,
        batchRows: options.compact?.batchRows ?? BATCH_ROWS
      })
      : null
    this.lagBytes = options.lagBytes ?? 256 * 1024 * 1024
    this.precompute = options.precompute === undefined
      ? null
      : { maxBytes: options.precompute.maxBytes, idleMs: options.precompute.idleMs ?? 150 }
    this.fd = openForReading(options.file)
    this.segments = [options.segment]
    this.storedEnd = options.segment.offset
    this.parsedEnd = Math.max(options.startOffset ?? options.segment.offset, options.segment.offset)
    this.markInterval = options.skipTuning?.markInterval ?? MARK_INTERVAL
    this.minSkipBytes = options.skipTuning?.minSkipBytes ?? MIN_SKIP_BYTES
    this.scanner = new OutputScanner(this.parsedEnd, options.cols, this.markInterval)
  }

  get backlog(): number {
    const scanLag = this.current === this.segments.length - 1 ? Math.max(0, this.storedEnd - this.scanner.offset) : 0
    return scanLag + Math.max(0, this.scanner.unsafeEnd - this.parsedEnd)
  }

  /** Lines the screen holds now (scrollback and screen of the normal buffer, as cells or text): what its memory scales with. */
  get lines(): number {
    return this.disposed ? 0 : this.terminal.buffer.normal.length + (this.compact?.savedRows ?? 0)
  }

  /** Scrollback rows kept as text, and rows dropped before they could be (diagnostics, tests). */
  get compactStats(): { readonly saved: number; readonly lost: number; readonly savedRows: number } | null {
    const compact = this.compact
    return compact === null ? null : { ...compact.stats, savedRows: compact.savedRows }
  }

  onProgress(listener: () => void): void {
    this.progressListener = listener
  }

  onFailure(listener: (message: string) => void): void {
    this.failureListener = listener
  }

  stored(end: number, segment: MirrorSegment): void {
    if (this.disposed || this.broken !== null) return
    const newest = this.segments[this.segments.length - 1]!
    if (segment.offset !== newest.offset || segment.position !== newest.position) {
      this.segments.push(segment)
    }
    this.storedEnd = end
    this.heardOutput()
    this.drive()
  }

  resetAt(offset: number): void {
    this.enqueue({ _tag: "reset", offset })
  }

  resize(offset: number, cols: number, rows: number): void {
    this.enqueue({ _tag: "resize", offset, cols, rows })
  }

  snapshot(offset: number, onReady: (snapshot: MirrorSnapshot) => void, maxBytes = Number.MAX_SAFE_INTEGER): void {
    if (this.disposed || this.broken !== null) {
      onReady({ offset, cols: this.terminal.cols, rows: this.terminal.rows, data: "" })
      return
    }
    const cached = this.cached
    if (this.operations.length === 0 && cached !== null && cached.snapshot.offset === offset && cached.maxBytes === maxBytes) {
      onReady(cached.snapshot)
      return
    }
    this.enqueue({ _tag: "snapshot", offset, maxBytes, onReady: once(onReady) })
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    if (this.idleTimer !== null) clearTimeout(this.idleTimer)
    for (const operation of this.operations.splice(0)) {
      if (operation._tag === "snapshot") {
        operation.onReady({ offset: operation.offset, cols: this.terminal.cols, rows: this.terminal.rows, data: "" })
      }
    }
    if (this.fd !== null) NodeFs.closeSync(this.fd)
    this.fd = null
    this.compact?.dispose()
    this.serializer.dispose()
    this.terminal.dispose()
  }

  private enqueue(operation: Operation): void {
    if (this.disposed || this.broken !== null) return
    if (operation._tag !== "snapshot") this.cached = null
    this.operations.push(operation)
    this.drive()
  }

  /**
   * New output: not quiet any more; quiet again after `idleMs` without any.
   * A snapshot kept from before is stale now: dropped, so it neither holds
   * memory nor stops the next precompute.
   */
  private heardOutput(): void {
    this.quiet = false
    this.cached = null
    if (this.idleTimer !== null) clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null
      this.quiet = true
      this.drive()
    }, this.precompute?.idleMs ?? 150)
    this.idleTimer.unref()
  }

  /** Works through the operations, then the background catch-up, one at a time. */
  private drive(): void {
    if (this.driving || this.disposed) return
    this.driving = true
    void this.work().catch((error: unknown) => this.fail(error)).finally(() => {
      this.driving = false
      // Quiet and caught up: let the read buffer go until output comes again.
      if (this.quiet && this.operations.length === 0) this.readBuffer = null
      this.progressListener?.()
    })
  }

  /**
   * Something broke (the transcript file vanished, xterm threw): the screen
   * can no longer be trusted. Waiting and later snapshots come back empty
   * (viewers still get every byte from then on, as after a gap).
   */
  private fail(error: unknown): void {
    this.broken = error instanceof Error ? error : new Error(String(error))
    this.cached = null
    this.failureListener?.(`the screen mirror stopped (${this.broken.message})`)
    for (const operation of this.operations.splice(0)) {
      if (operation._tag === "snapshot") {
        operation.onReady({ offset: operation.offset, cols: this.terminal.cols, rows: this.terminal.rows, data: "" })
      }
    }
  }

  private async work(): Promise<void> {
    for (;;) {
      if (this.disposed) return
      this.scanAvailable()
      const operation = this.operations[0]
      if (operation !== undefined) {
        if (!this.ready(operation)) return
        await this.apply(operation)
        this.operations.shift()
        this.progressListener?.()
        continue
      }
      const goal = this.backgroundGoal()
      if (goal === null) {
        if (this.quiet && this.parsedEnd === this.availableEnd()) this.precomputeSnapshot()
        return
      }
      await this.advanceTo(goal)
      this.progressListener?.()
    }
  }

  /** Where to parse to without being asked, or null for nothing now. */
  private backgroundGoal(): number | null {
    const scanned = this.scanner.offset
    if (this.scanner.unsafeEnd > this.parsedEnd) return this.scanner.unsafeEnd
    if (scanned - this.parsedEnd >= this.lagBytes) return scanned
    if (this.quiet && scanned > this.parsedEnd) return scanned
    return null
  }

  /**
   * Serializes ahead of time, but not more often than every 20 serializations'
   * time (at least a second): a program that redraws a clock every second
   * under a full scrollback must not cost a serialization each time.
   */
  private precomputeSnapshot(): void {
    const precompute = this.precompute
    if (precompute === null || this.cached !== null) return
    const wait = this.lastPrecomputeAt + Math.max(MIN_PRECOMPUTE_INTERVAL_MS, 20 * this.lastSerializeMs) - Date.now()
    if (wait > 0) {
      if (this.idleTimer === null) {
        this.idleTimer = setTimeout(() => {
          this.idleTimer = null
          this.drive()
        }, wait)
        this.idleTimer.unref()
      }
      return
    }
    const started = Date.now()
    this.cached = { maxBytes: precompute.maxBytes, snapshot: this.serialize(precompute.maxBytes) }
    this.lastPrecomputeAt = Date.now()
    this.lastSerializeMs = this.lastPrecomputeAt - started
  }

  private ready(operation: Operation): boolean {
    if (operation._tag === "reset") {
      return this.segments.some((segment, index) => index > this.current && segment.offset === operation.offset)
    }
    return operation.offset <= this.availableEnd()
  }

  private async apply(operation: Operation): Promise<void> {
    switch (operation._tag) {
      case "snapshot": {
        await this.advanceTo(operation.offset)
        const snapshot = this.serialize(operation.maxBytes)
        if (this.operations.length === 1 && this.parsedEnd === this.availableEnd()) {
          this.cached = { maxBytes: operation.maxBytes, snapshot }
        }
        operation.onReady(snapshot)
        return
      }
      case "resize":
        await this.advanceTo(operation.offset)
        if (this.terminal.cols !== operation.cols || this.terminal.rows !== operation.rows) {
          if (this.compact !== null) this.compact.resize(operation.cols, operation.rows)
          else this.terminal.resize(operation.cols, operation.rows)
        }
        this.scanner.resize(operation.cols)
        this.cached = null
        return
      case "reset": {
        // Nothing before the gap matters any more: a blank terminal, read from the new segment.
        this.current = this.segments.findIndex((segment, index) => index > this.current && segment.offset === operation.offset)
        this.terminal.reset()
        this.compact?.clear()
        this.parsedEnd = operation.offset
        this.scanner = new OutputScanner(operation.offset, this.terminal.cols, this.markInterval)
        this.cached = null
        return
      }
    }
  }

  /** The offset after the last byte of the segment being read that the file holds. */
  private availableEnd(): number {
    const segment = this.segments[this.current]!
    const next = this.segments[this.current + 1]
    return next === undefined ? this.storedEnd : segment.offset + (next.position - segment.position)
  }

  /** Scans what the file holds, stopping at the next resize or reset (the scanner must know the width there). */
  private scanAvailable(): void {
    let limit = this.availableEnd()
    for (const operation of this.operations) {
      if (operation._tag !== "snapshot") {
        limit = Math.min(limit, operation.offset)
        break
      }
    }
    // A mark at a requested snapshot's offset lets skipping resume from there.
    for (const operation of this.operations) {
      if (operation._tag === "snapshot" && operation.offset > this.scanner.offset && operation.offset <= limit) {
        this.scanTo(operation.offset)
        this.scanner.mark()
      }
    }
    this.scanTo(limit)
  }

  private scanTo(limit: number): void {
    while (this.scanner.offset < limit) {
      const data = this.read(this.scanner.offset, Math.min(READ_BYTES, limit - this.scanner.offset))
      if (data.length === 0) return
      this.scanner.feed(data)
    }
  }

  /** Brings xterm to exactly `target`, skipping what provably does not matter there. */
  private async advanceTo(target: number): Promise<void> {
    while (this.parsedEnd < target && !this.disposed) {
      const plan = planSkip(this.scanner.marks, this.facts(), target, this.minSkipBytes)
      if (plan !== null) {
        this.stats.skipped += plan.cut - this.parsedEnd
        this.stats.skips++
        await this.write(plan.prelude)
        this.parsedEnd = plan.cut
        this.scanner.dropBefore(this.parsedEnd)
        continue
      }
      const stop = this.nextStop(target)
      const data = this.read(this.parsedEnd, stop - this.parsedEnd)
      if (data.length === 0) return // the file is shorter than it should be: nothing more to parse
      await this.write(data)
      this.stats.parsed += data.length
      this.parsedEnd += data.length
      this.scanner.dropBefore(this.parsedEnd)
    }
  }

  /** Where the next parse stops: the next mark (a skip may start there), at most a read's worth ahead. */
  private nextStop(target: number): number {
    const limit = Math.min(target, this.parsedEnd + READ_BYTES)
    if (this.scanner.unsafeEnd > this.parsedEnd) return Math.min(limit, Math.max(this.scanner.unsafeEnd, this.parsedEnd + 1))
    for (const mark of this.scanner.marks) {
      if (mark.offset > this.parsedEnd) return Math.min(limit, mark.offset)
    }
    return limit
  }

  private facts(): MirrorFacts {
    const terminal = this.terminal
    return {
      parsedEnd: this.parsedEnd,
      cols: terminal.cols,
      rows: terminal.rows,
      scrollback: this.scrollback,
      cursorX: terminal.buffer.active.cursorX,
      autowrap: terminal.modes.wraparoundMode,
      lineFeedReturns: terminal.options.convertEol === true,
      fullScrollRegion: hasFullScrollRegion(terminal)
    }
  }

  /** `length` bytes of the current segment from stream offset `offset` (fewer if the file is short). */
  private read(offset: number, length: number): Uint8Array {
    if (this.fd === null || length <= 0) return new Uint8Array(0)
    const segment = this.segments[this.current]!
    this.readBuffer ??= Buffer.allocUnsafe(READ_BYTES)
    const into = this.readBuffer.subarray(0, Math.min(length, READ_BYTES))
    const got = NodeFs.readSync(this.fd, into, 0, into.length, segment.position + (offset - segment.offset))
    return into.subarray(0, got)
  }

  private write(data: Uint8Array): Promise<void> {
    return new Promise((resolve) => this.terminal.write(data, resolve))
  }

  private serialize(maxBytes: number): MirrorSnapshot {
    return { offset: this.parsedEnd, cols: this.terminal.cols, rows: this.terminal.rows, data: this.serializeWithin(maxBytes) }
  }

  /**
   * The serialized screen in at most `maxBytes` of UTF-8: with all the
   * scrollback if it fits, else with less (halving), else the screen alone.
   */
  private serializeWithin(maxBytes: number): string {
    if (this.compact !== null) return this.compact.snapshot(this.serializer, maxBytes)
    let scrollback = this.terminal.buffer.active.length
    for (;;) {
      const data = this.serializer.serialize({ scrollback })
      if (Buffer.byteLength(data, "utf8") <= maxBytes || scrollback === 0) return data
      scrollback = scrollback > 64 ? Math.floor(scrollback / 2) : 0
    }
  }
}

/**
 * A snapshot's answer, given at most once: a caller that disposes the mirror
 * (or makes it fail) from inside its callback would otherwise be answered
 * again, empty, by `dispose` (the operation leaves the queue only after its
 * callback returns).
 */
const once = (onReady: (snapshot: MirrorSnapshot) => void): ((snapshot: MirrorSnapshot) => void) => {
  let answered = false
  return (snapshot) => {
    if (answered) return
    answered = true
    onReady(snapshot)
  }
}

const openForReading = (file: string): number | null => {
  try {
    return NodeFs.openSync(file, "r")
  } catch {
    return null
  }
}

/**
 * Whether the scroll region is the whole screen. xterm keeps the margins
 * private; if their shape ever changes this says no, and the mirror simply
 * parses everything (a test checks that skipping happens with the xterm this
 * project pins).
 */
const hasFullScrollRegion = (terminal: Terminal): boolean => {
  const core: unknown = Reflect.get(terminal, "_core")
  if (typeof core !== "object" || core === null) return false
  const buffer: unknown = Reflect.get(core, "buffer")
  if (typeof buffer !== "object" || buffer === null) return false
  const top: unknown = Reflect.get(buffer, "scrollTop")
  const bottom: unknown = Reflect.get(buffer, "scrollBottom")
  return top === 0 && bottom === terminal.rows - 1
}

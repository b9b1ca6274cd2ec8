/**
 * The server's copy of a terminal's screen: a headless xterm that parses
 * every output byte (screen, scrollback, modes, alternate buffer), and its
 * serialize addon to turn that state into a SNAPSHOT a joining viewer writes
 * into a fresh terminal to see exactly the same thing.
 *
 * xterm parses asynchronously, in slices. Every operation here is queued
 * behind the output written before it (a resize or a snapshot applies at its
 * place in the stream, never early): `snapshot` completes with the screen as
 * it is once exactly the bytes before its `offset` are applied.
 */
import { SerializeAddon } from "@xterm/addon-serialize"
import { Terminal } from "@xterm/headless"

export interface MirrorSnapshot {
  /** The stream offset the snapshot corresponds to (every earlier byte is applied). */
  readonly offset: number
  readonly cols: number
  readonly rows: number
  /** Serialized screen and scrollback (escape sequences), UTF-8 text. */
  readonly data: string
}

export interface TerminalMirrorOptions {
  readonly cols: number
  readonly rows: number
  /** Lines of scrollback kept (default 10 000). */
  readonly scrollback?: number
  /** The stream offset of the first byte this mirror will see (default 0). */
  readonly startOffset?: number
  /**
   * Serialize ahead of time once output has been quiet for `idleMs` (default
   * 150), so a viewer joining then gets its snapshot at once instead of
   * waiting for a scrollback's serialization (tens of milliseconds).
   */
  readonly precompute?: { readonly maxBytes: number; readonly idleMs?: number }
}

/**
 * What the relay needs of a screen mirror: this in-thread one, or its twin in
 * a worker thread (`MirrorWorker.ts`), which keeps parsing off the thread
 * that relays bytes.
 */
export interface ScreenMirror {
  /** The offset after the last byte written. */
  readonly end: number
  /** Bytes written but not parsed yet. */
  readonly backlog: number
  readonly write: (data: Uint8Array) => void
  readonly resetAt: (offset: number) => void
  readonly resize: (cols: number, rows: number) => void
  readonly snapshot: (onReady: (snapshot: MirrorSnapshot) => void, maxBytes?: number) => void
  /** Called whenever parsing progressed (the backlog shrank). */
  readonly onProgress: (listener: () => void) => void
  readonly dispose: () => void
}

export type ScreenMirrorFactory = (options: TerminalMirrorOptions) => ScreenMirror

const EMPTY = new Uint8Array(0)
const RESET = new TextEncoder().encode("\x1bc")

/** Bytes handed to xterm but not yet parsed, at most (xterm itself drops data beyond 50 MB). */
const IN_FLIGHT_BYTES = 1 << 20

type Operation =
  | { readonly _tag: "data"; readonly data: Uint8Array }
  | { readonly _tag: "barrier"; readonly run: () => void }

export class TerminalMirror implements ScreenMirror {
  private readonly terminal: Terminal
  private readonly serializer: SerializeAddon
  /** The offset after the last byte handed to xterm (applied or still queued). */
  private queuedEnd: number
  private disposed = false
  /** Operations waiting for xterm to catch up, in stream order. */
  private readonly waiting: Array<Operation> = []
  private waitingHead = 0
  private waitingBytes = 0
  private inFlight = 0
  private progressListener: (() => void) | null = null
  private parsedBytes = 0
  /** Bumped by every write, reset and resize: a snapshot is only reused for the same version. */
  private version = 0
  private cached: { readonly version: number; readonly maxBytes: number; readonly snapshot: MirrorSnapshot } | null = null
  private idleTimer: NodeJS.Timeout | null = null
  private readonly precompute: { readonly maxBytes: number; readonly idleMs: number } | null

  constructor(options: TerminalMirrorOptions) {
    this.terminal = new Terminal({
      cols: options.cols,
      rows: options.rows,
      scrollback: options.scrollback ?? 10_000,
      allowProposedApi: true
    })
    this.serializer = new SerializeAddon()
    this.terminal.loadAddon(this.serializer)
    this.queuedEnd = options.startOffset ?? 0
    this.precompute = options.precompute === undefined
      ? null
      : { maxBytes: options.precompute.maxBytes, idleMs: options.precompute.idleMs ?? 150 }
  }

  /** The offset after the last byte written. */
  get end(): number {
    return this.queuedEnd
  }

  get cols(): number {
    return this.terminal.cols
  }

  get rows(): number {
    return this.terminal.rows
  }

  /** Bytes written but not parsed yet (the server slows its runner down while this is large). */
  get backlog(): number {
    return this.waitingBytes + this.inFlight
  }

  /** Bytes parsed so far (everything written, minus the backlog). */
  get parsed(): number {
    return this.parsedBytes
  }

  /** Called whenever xterm finished parsing a chunk (the backlog shrank). */
  onProgress(listener: () => void): void {
    this.progressListener = listener
  }

  /** Applies output bytes (the next `data.length` bytes of the stream). */
  write(data: Uint8Array): void {
    if (this.disposed || data.length === 0) return
    this.queuedEnd += data.length
    this.changed()
    this.enqueue({ _tag: "data", data })
  }

  /** Output was lost: start over from a blank screen at `offset`. */
  resetAt(offset: number): void {
    if (this.disposed) return
    // RIS (full reset) at its place in the stream: no state survives the gap.
    this.enqueue({ _tag: "data", data: RESET })
    this.queuedEnd = offset
    this.changed()
  }

  /** Resizes once every byte written so far is applied. */
  resize(cols: number, rows: number): void {
    this.changed()
    this.barrier(() => {
      if (this.terminal.cols !== cols || this.terminal.rows !== rows) this.terminal.resize(cols, rows)
    })
  }

  /** Serializes the screen once every byte written so far is applied. */
  snapshot(onReady: (snapshot: MirrorSnapshot) => void, maxBytes = Number.MAX_SAFE_INTEGER): void {
    const offset = this.queuedEnd
    if (this.disposed) {
      onReady({ offset, cols: 80, rows: 24, data: "" })
      return
    }
    const cached = this.cached
    if (cached !== null && cached.version === this.version && cached.maxBytes === maxBytes) {
      onReady(cached.snapshot)
      return
    }
    const version = this.version
    this.barrier(() => {
      const snapshot = { offset, cols: this.terminal.cols, rows: this.terminal.rows, data: this.serializeWithin(maxBytes) }
      if (version === this.version) this.cached = { version, maxBytes, snapshot }
      onReady(snapshot)
    })
  }

  /** The screen changed (or will): forget the precomputed snapshot, and precompute again once output is quiet. */
  private changed(): void {
    this.version++
    this.cached = null
    const precompute = this.precompute
    if (precompute === null || this.disposed) return
    if (this.idleTimer !== null) clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null
      if (this.disposed || this.backlog > 0) {
        if (!this.disposed) this.changedLater()
        return
      }
      const version = this.version
      const offset = this.queuedEnd
      this.barrier(() => {
        if (version !== this.version) return
        const snapshot = { offset, cols: this.terminal.cols, rows: this.terminal.rows, data: this.serializeWithin(precompute.maxBytes) }
        this.cached = { version, maxBytes: precompute.maxBytes, snapshot }
      })
    }, precompute.idleMs)
    this.idleTimer.unref()
  }

  /** Still parsing: look again after another quiet period (the version is unchanged). */
  private changedLater(): void {
    const version = this.version
    this.changed()
    this.version = version
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    if (this.idleTimer !== null) clearTimeout(this.idleTimer)
    this.cached = null
    this.waiting.length = 0
    this.waitingHead = 0
    this.waitingBytes = 0
    this.serializer.dispose()
    this.terminal.dispose()
  }

  /**
   * The serialized screen in at most `maxBytes` of UTF-8: with all the
   * scrollback if it fits, else with less (halving), else the screen alone.
   */
  private serializeWithin(maxBytes: number): string {
    let scrollback = this.terminal.buffer.active.length
    for (;;) {
      const data = this.serializer.serialize({ scrollback })
      if (Buffer.byteLength(data, "utf8") <= maxBytes || scrollback === 0) return data
      scrollback = scrollback > 64 ? Math.floor(scrollback / 2) : 0
    }
  }

  /** Runs `run` once everything queued before it is applied. */
  private barrier(run: () => void): void {
    if (this.disposed) return
    this.enqueue({ _tag: "barrier", run })
  }

  private enqueue(operation: Operation): void {
    if (this.waitingHead === this.waiting.length && this.inFlight < IN_FLIGHT_BYTES) {
      this.issue(operation)
      return
    }
    this.waiting.push(operation)
    if (operation._tag === "data") this.waitingBytes += operation.data.length
  }

  private issue(operation: Operation): void {
    if (operation._tag === "barrier") {
      this.terminal.write(EMPTY, () => {
        if (!this.disposed) operation.run()
      })
      return
    }
    const length = operation.data.length
    this.inFlight += length
    this.terminal.write(operation.data, () => {
      this.inFlight -= length
      this.parsedBytes += length
      this.pump()
      this.progressListener?.()
    })
  }

  /** Hands waiting operations to xterm while it has room. */
  private pump(): void {
    while (!this.disposed && this.waitingHead < this.waiting.length && this.inFlight < IN_FLIGHT_BYTES) {
      const operation = this.waiting[this.waitingHead]!
      this.waitingHead++
      if (operation._tag === "data") this.waitingBytes -= operation.data.length
      this.issue(operation)
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting.length = 0
      this.waitingHead = 0
    } else if (this.waitingHead > 1024) {
      this.waiting.splice(0, this.waitingHead)
      this.waitingHead = 0
    }
  }
}

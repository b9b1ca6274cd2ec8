/**
 * Screen mirrors in a worker thread. Parsing terminal output with headless
 * xterm costs more CPU than everything else the relay does, and a snapshot
 * of a long scrollback takes tens of milliseconds; in a worker neither delays
 * the thread that relays bytes and echoes keystrokes.
 *
 * One worker per server process runs every terminal's `TerminalMirror`. The
 * worker runs `dist/mirror-worker.cjs` (src/bin/mirror-worker.ts), a bundle
 * beside the program's that holds only the mirror and xterm: a worker
 * loading the whole program cost the server about 45 MB of RSS, this one
 * about 7. Running from source (tests), there is no bundle and the relay
 * uses in-thread mirrors.
 *
 * The worker reads output from the transcript files itself; messages carry
 * no output bytes (structured clone, all small):
 * main → worker `open | stored | reset | resize | snapshot | close | heap`,
 * worker → main `progress` (the mirror's backlog), `snapshot`, `failed` and
 * `heap` (the bytes its heap uses, for diagnostics).
 * If the worker dies, the snapshots it owed come back empty (viewers still
 * get every byte from then on), the failure is logged, and each of its
 * mirrors reports the failure: their terminals open new mirrors, which start
 * a new worker (at most MAX_RESTARTS within RESTART_WINDOW_MS; after that
 * mirrors stay empty until the server restarts).
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import * as NodeV8 from "node:v8"
import * as NodeVm from "node:vm"
import { parentPort, Worker } from "node:worker_threads"
import { ShapeKeeper } from "./ShapeKeeper.js"
import {
  type MirrorSegment,
  type MirrorSnapshot,
  type ScreenMirror,
  type ScreenMirrorFactory,
  TerminalMirror,
  type TerminalMirrorOptions
} from "./TerminalMirror.js"

type ToWorker =
  | { readonly t: "open"; readonly id: number; readonly options: TerminalMirrorOptions }
  | { readonly t: "stored"; readonly id: number; readonly end: number; readonly segment: MirrorSegment }
  | { readonly t: "reset"; readonly id: number; readonly offset: number }
  | { readonly t: "resize"; readonly id: number; readonly offset: number; readonly cols: number; readonly rows: number }
  | { readonly t: "snapshot"; readonly id: number; readonly request: number; readonly offset: number; readonly maxBytes: number }
  | { readonly t: "close"; readonly id: number }
  | { readonly t: "heap"; readonly request: number }

type FromWorker =
  | { readonly t: "progress"; readonly id: number; readonly backlog: number; readonly heard: number }
  | { readonly t: "snapshot"; readonly request: number; readonly snapshot: MirrorSnapshot }
  | { readonly t: "failed"; readonly id: number; readonly message: string }
  | { readonly t: "heap"; readonly request: number; readonly used: number }

/** A closed mirror this big (lines of screen and scrollback: about 1 kB each at 80 columns) is collected at once. */
const COLLECT_AFTER_LINES = 1000
/** Mirrors closed within this long are collected together. */
const COLLECT_DELAY_MS = 100

/**
 * A full garbage collection of the calling thread's heap, on demand, or null
 * where it cannot be had. Node offers `gc` only with `--expose-gc`; the flag
 * set at run time exposes it to contexts created afterwards, so a fresh
 * context hands it over (the flag is process-wide and only adds a global
 * named `gc` to contexts created later; this server creates none).
 */
const fullCollection = (): (() => void) | null => {
  try {
    NodeV8.setFlagsFromString("--expose-gc")
    const gc: unknown = NodeVm.runInNewContext("gc")
    return typeof gc === "function" ? () => void gc() : null
  } catch {
    return null
  }
}

/** The worker's side: runs until its parent goes away. */
export const runMirrorWorker = (): void => {
  const port = parentPort
  if (port === null) throw new Error("runMirrorWorker runs in a worker thread only")
  const mirrors = new Map<number, { readonly mirror: TerminalMirror; reported: number; heard: number; reportedHeard: number }>()
  /**
   * A terminal's screen is thousands of small objects and buffers that live
   * long, so they sit in the old generation, which V8 collects once the heap
   * has grown by up to four times what was live at the last collection. A
   * closed mirror's megabytes would wait there while the next busy terminal
   * allocates its own: the process grew by a whole screen per terminal
   * started. Collected right after a big mirror closes, the next one reuses
   * that memory (a collection of this worker's heap takes a few
   * milliseconds, off the relay's thread).
   */
  let collect: (() => void) | null | undefined // obtained when first needed (a context: well under 1 MB, about 1 ms)
  let collectTimer: NodeJS.Timeout | null = null
  const collectSoon = () => {
    if (collect === undefined) collect = fullCollection()
    const run = collect
    if (run === null || collectTimer !== null) return
    collectTimer = setTimeout(() => {
      collectTimer = null
      run()
    }, COLLECT_DELAY_MS)
    collectTimer.unref()
  }
  const post = (message: FromWorker) => port.postMessage(message)
  /** Tells the main thread the backlog when it changed, and at least every MiB of output heard of (its estimate counts the rest). */
  const report = (id: number) => {
    const entry = mirrors.get(id)
    if (entry === undefined) return
    const backlog = entry.mirror.backlog
    if (backlog !== entry.reported || entry.heard - entry.reportedHeard >= 1024 * 1024) {
      entry.reported = backlog
      entry.reportedHeard = entry.heard
      post({ t: "progress", id, backlog, heard: entry.heard })
    }
  }
  /**
   * Opened with the first mirror and kept for the worker's life: without it,
   * every full collection of this thread (the one above after a big mirror
   * closes, and V8's own) threw away the mirror's optimized code, which the
   * next burst of output compiled again (`ShapeKeeper`).
   */
  let shapes: ShapeKeeper | null = null
  port.on("message", (message: ToWorker) => {
    switch (message.t) {
      case "open": {
        shapes ??= new ShapeKeeper()
        const start = message.options.segment.offset
        const entry = { mirror: new TerminalMirror(message.options), reported: 0, heard: start, reportedHeard: start }
        entry.mirror.onProgress(() => report(message.id))
        entry.mirror.onFailure((text) => post({ t: "failed", id: message.id, message: text }))
        mirrors.set(message.id, entry)
        return
      }
      case "stored": {
        const entry = mirrors.get(message.id)
        if (entry === undefined) return
        entry.heard = message.end
        entry.mirror.stored(message.end, message.segment)
        report(message.id)
        return
      }
      case "reset":
        mirrors.get(message.id)?.mirror.resetAt(message.offset)
        return
      case "resize":
        mirrors.get(message.id)?.mirror.resize(message.offset, message.cols, message.rows)
        return
      case "snapshot": {
        const entry = mirrors.get(message.id)
        if (entry === undefined) {
          post({ t: "snapshot", request: message.request, snapshot: { offset: message.offset, cols: 80, rows: 24, data: "" } })
          return
        }
        entry.mirror.snapshot(
          message.offset,
          (snapshot) => post({ t: "snapshot", request: message.request, snapshot }),
          message.maxBytes
        )
        return
      }
      case "close": {
        const entry = mirrors.get(message.id)
        if (entry === undefined) return
        const lines = entry.mirror.lines
        entry.mirror.dispose()
        mirrors.delete(message.id)
        if (lines >= COLLECT_AFTER_LINES) collectSoon()
        return
      }
      case "heap":
        post({ t: "heap", request: message.request, used: NodeV8.getHeapStatistics().used_heap_size })
        return
    }
  })
}

/** New output is announced to the worker once this much is pending, or after STORED_BATCH_MS. */
const STORED_BATCH_BYTES = 1024 * 1024
const STORED_BATCH_MS = 25

/** Worker restarts allowed within RESTART_WINDOW_MS before the pool gives up. */
const MAX_RESTARTS = 3
const RESTART_WINDOW_MS = 60_000

/** One worker thread and what is waiting on it. */
class WorkerGeneration {
  readonly worker: Worker
  dead: Error | null = null
  readonly progress = new Map<number, (backlog: number, heard: number) => void>()
  readonly failures = new Map<number, (message: string) => void>()
  readonly snapshots = new Map<number, { readonly fallbackOffset: number; readonly done: (s: MirrorSnapshot) => void }>()
  readonly heapRequests = new Map<number, (used: number | null) => void>()

  constructor(workerFile: string, onDeath: (generation: WorkerGeneration, error: Error) => void) {
    this.worker = new Worker(workerFile)
    this.worker.unref()
    this.worker.on("message", (message: FromWorker) => {
      if (message.t === "progress") this.progress.get(message.id)?.(message.backlog, message.heard)
      else if (message.t === "failed") this.failures.get(message.id)?.(message.message)
      else if (message.t === "heap") {
        this.heapRequests.get(message.request)?.(message.used)
        this.heapRequests.delete(message.request)
      } else {
        const waiting = this.snapshots.get(message.request)
        this.snapshots.delete(message.request)
        waiting?.done(message.snapshot)
      }
    })
    const fail = (error: Error) => {
      if (this.dead !== null) return
      this.dead = error
      // Mirrors hear of it first (their terminals open new ones), then the snapshots owed are answered empty.
      onDeath(this, error)
      for (const [request, waiting] of this.snapshots) {
        this.snapshots.delete(request)
        waiting.done({ offset: waiting.fallbackOffset, cols: 80, rows: 24, data: "" })
      }
      for (const answer of this.heapRequests.values()) answer(null)
      this.heapRequests.clear()
    }
    this.worker.on("error", fail)
    this.worker.on("exit", (code) => fail(new Error(`exit code ${code}`)))
  }

  send(message: ToWorker): void {
    if (this.dead === null) this.worker.postMessage(message)
  }
}

/** The main thread's handle on the worker; `factory` makes mirrors that live in it. */
export class MirrorWorkerPool {
  private generation: WorkerGeneration
  private nextId = 1
  private nextRequest = 1
  /** When the workers that died recently started dying (restart budget). */
  private deaths: Array<number> = []
  private gaveUp = false
  /** Set by `close`: the worker's exit is then expected, not a failure to report. */
  private closing = false

  private started = 0

  constructor(private readonly workerFile: string, private readonly log: (message: string) => void) {
    this.generation = this.start()
  }

  /** Workers started so far (the first included). */
  get workersStarted(): number {
    return this.started
  }

  /** Bytes the live worker's heap uses (V8's `used_heap_size`), or null without a live worker. */
  heapUsed(): Promise<number | null> {
    const generation = this.generation
    if (generation.dead !== null) return Promise.resolve(null)
    const request = this.nextRequest++
    return new Promise((resolve) => {
      generation.heapRequests.set(request, resolve)
      generation.send({ t: "heap", request })
    })
  }

  private start(): WorkerGeneration {
    this.started++
    return new WorkerGeneration(this.workerFile, (generation, error) => {
      if (this.closing) return
      const now = Date.now()
      this.deaths = [...this.deaths.filter((at) => now - at < RESTART_WINDOW_MS), now]
      this.gaveUp = this.deaths.length > MAX_RESTARTS
      this.log(
        `the terminal mirror worker stopped (${error.message}); ` +
          (this.gaveUp
            ? `it stopped ${this.deaths.length} times within a minute, so late joiners get an empty screen until the server restarts`
            : "terminals rebuild their screens in a new one")
      )
      for (const listener of [...generation.failures.values()]) listener(`the terminal mirror worker stopped (${error.message})`)
    })
  }

  /** The live worker, started again if the last one died (within the restart budget). */
  private live(): WorkerGeneration {
    if (this.generation.dead !== null && !this.gaveUp && !this.closing) this.generation = this.start()
    return this.generation
  }

  readonly factory: ScreenMirrorFactory = (options) => {
    const generation = this.live()
    const id = this.nextId++
    let cols = options.cols
    let rows = options.rows
    /** The worker's last word on its backlog, and stored output told since (not yet scanned, as far as this side knows). */
    let reported = 0
    let storedTold = options.segment.offset
    let heardAtReport = storedTold
    let progress: (() => void) | null = null
    let pending: { readonly end: number; readonly segment: MirrorSegment } | null = null
    let postedEnd = options.segment.offset
    let flushTimer: NodeJS.Timeout | null = null
    const flushStored = () => {
      if (flushTimer !== null) clearTimeout(flushTimer)
      flushTimer = null
      if (pending === null) return
      generation.send({ t: "stored", id, end: pending.end, segment: pending.segment })
      postedEnd = pending.end
      pending = null
    }
    generation.progress.set(id, (backlog, heard) => {
      reported = backlog
      heardAtReport = heard
      progress?.()
    })
    generation.send({ t: "open", id, options })
    const mirror: ScreenMirror = {
      get backlog() {
        return reported + Math.max(0, storedTold - heardAtReport)
      },
      stored: (end, segment) => {
        // The mirror lags on purpose, so it hears of new output in batches: at once after a MiB, else
        // within STORED_BATCH_MS (each message costs the relay's thread more than the bytes it announces).
        // Snapshots, resizes and resets send what is pending first, so they never wait for this.
        if (pending !== null && (pending.segment.offset !== segment.offset || pending.segment.position !== segment.position)) {
          flushStored()
        }
        storedTold = end
        pending = { end, segment }
        if (end - postedEnd >= STORED_BATCH_BYTES) flushStored()
        else if (flushTimer === null) flushTimer = setTimeout(flushStored, STORED_BATCH_MS)
      },
      resetAt: (offset) => {
        flushStored()
        storedTold = offset
        heardAtReport = offset
        generation.send({ t: "reset", id, offset })
      },
      resize: (offset, newCols, newRows) => {
        flushStored()
        cols = newCols
        rows = newRows
        generation.send({ t: "resize", id, offset, cols: newCols, rows: newRows })
      },
      snapshot: (offset, onReady, maxBytes = Number.MAX_SAFE_INTEGER) => {
        if (generation.dead !== null) {
          onReady({ offset, cols, rows, data: "" })
          return
        }
        flushStored()
        const request = this.nextRequest++
        generation.snapshots.set(request, { fallbackOffset: offset, done: onReady })
        generation.send({ t: "snapshot", id, request, offset, maxBytes })
      },
      onProgress: (listener) => {
        progress = listener
      },
      onFailure: (listener) => {
        generation.failures.set(id, listener)
      },
      dispose: () => {
        pending = null
        if (flushTimer !== null) clearTimeout(flushTimer)
        generation.progress.delete(id)
        generation.failures.delete(id)
        generation.send({ t: "close", id })
      }
    }
    return mirror
  }

  close(): Promise<number> {
    this.closing = true
    return this.generation.worker.terminate()
  }
}

/** The mirror worker's bundle beside the program bundle this process runs from, when it runs from one. */
export const mirrorWorkerFile = (): string | null => {
  if (typeof __filename !== "string" || !__filename.endsWith(".cjs")) return null
  const file = NodePath.join(NodePath.dirname(__filename), "mirror-worker.cjs")
  return NodeFs.existsSync(file) ? file : null
}

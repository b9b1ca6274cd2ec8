/**
 * Screen mirrors in a worker thread. Parsing terminal output with headless
 * xterm costs more CPU than everything else the relay does, and a snapshot
 * of a long scrollback takes tens of milliseconds; in a worker neither delays
 * the thread that relays bytes and echoes keystrokes.
 *
 * One worker per server process runs every terminal's `TerminalMirror`. The
 * worker is the program bundle itself (`dist/tether.cjs`), started with
 * `workerData.role = "terminal-mirror"` (see src/bin/tether.ts), so it needs
 * no file of its own. Running from source (tests), there is no bundle and
 * the relay uses in-thread mirrors.
 *
 * Messages (structured clone; output bytes are copied once and transferred):
 * main → worker `open | write | reset | resize | snapshot | close`,
 * worker → main `parsed` (bytes parsed so far, per terminal) and `snapshot`.
 * If the worker dies, snapshots come back empty (viewers still get every
 * byte from then on) and the failure is logged.
 */
import { parentPort, Worker } from "node:worker_threads"
import {
  type MirrorSnapshot,
  type ScreenMirror,
  type ScreenMirrorFactory,
  TerminalMirror,
  type TerminalMirrorOptions
} from "./TerminalMirror.js"
import { MIRROR_WORKER_ROLE } from "./mirror-role.js"

export { MIRROR_WORKER_ROLE } from "./mirror-role.js"

type ToWorker =
  | { readonly t: "open"; readonly id: number; readonly options: TerminalMirrorOptions }
  | { readonly t: "write"; readonly id: number; readonly data: Uint8Array }
  | { readonly t: "reset"; readonly id: number; readonly offset: number }
  | { readonly t: "resize"; readonly id: number; readonly cols: number; readonly rows: number }
  | { readonly t: "snapshot"; readonly id: number; readonly request: number; readonly maxBytes: number }
  | { readonly t: "close"; readonly id: number }

type FromWorker =
  | { readonly t: "parsed"; readonly id: number; readonly parsed: number }
  | { readonly t: "snapshot"; readonly request: number; readonly snapshot: MirrorSnapshot }

/** The worker's side: runs until its parent goes away. */
export const runMirrorWorker = (): void => {
  const port = parentPort
  if (port === null) throw new Error("runMirrorWorker runs in a worker thread only")
  const mirrors = new Map<number, { readonly mirror: TerminalMirror; parsed: number; reported: number }>()
  const post = (message: FromWorker) => port.postMessage(message)
  port.on("message", (message: ToWorker) => {
    switch (message.t) {
      case "open": {
        const entry = { mirror: new TerminalMirror(message.options), parsed: 0, reported: 0 }
        entry.mirror.onProgress(() => {
          const parsed = entry.mirror.parsed
          if (parsed !== entry.reported) {
            entry.reported = parsed
            post({ t: "parsed", id: message.id, parsed })
          }
        })
        mirrors.set(message.id, entry)
        return
      }
      case "write":
        mirrors.get(message.id)?.mirror.write(message.data)
        return
      case "reset":
        mirrors.get(message.id)?.mirror.resetAt(message.offset)
        return
      case "resize":
        mirrors.get(message.id)?.mirror.resize(message.cols, message.rows)
        return
      case "snapshot": {
        const entry = mirrors.get(message.id)
        if (entry === undefined) {
          post({ t: "snapshot", request: message.request, snapshot: { offset: 0, cols: 80, rows: 24, data: "" } })
          return
        }
        entry.mirror.snapshot((snapshot) => post({ t: "snapshot", request: message.request, snapshot }), message.maxBytes)
        return
      }
      case "close":
        mirrors.get(message.id)?.mirror.dispose()
        mirrors.delete(message.id)
        return
    }
  })
}

/** The main thread's handle on the worker; `factory` makes mirrors that live in it. */
export class MirrorWorkerPool {
  private readonly worker: Worker
  private nextId = 1
  private nextRequest = 1
  private readonly parsed = new Map<number, (parsed: number) => void>()
  private readonly snapshots = new Map<number, { readonly fallbackOffset: number; readonly done: (s: MirrorSnapshot) => void }>()
  private dead: Error | null = null

  constructor(bundlePath: string, private readonly log: (message: string) => void) {
    this.worker = new Worker(bundlePath, { workerData: { role: MIRROR_WORKER_ROLE } })
    this.worker.unref()
    this.worker.on("message", (message: FromWorker) => {
      if (message.t === "parsed") this.parsed.get(message.id)?.(message.parsed)
      else {
        const waiting = this.snapshots.get(message.request)
        this.snapshots.delete(message.request)
        waiting?.done(message.snapshot)
      }
    })
    const fail = (error: Error) => {
      if (this.dead !== null) return
      this.dead = error
      this.log(`the terminal mirror worker stopped (${error.message}); late joiners get an empty screen until the server restarts`)
      for (const [request, waiting] of this.snapshots) {
        this.snapshots.delete(request)
        waiting.done({ offset: waiting.fallbackOffset, cols: 80, rows: 24, data: "" })
      }
    }
    this.worker.on("error", fail)
    this.worker.on("exit", (code) => fail(new Error(`exit code ${code}`)))
  }

  private send(message: ToWorker, transfer?: ReadonlyArray<ArrayBuffer>): void {
    if (this.dead === null) this.worker.postMessage(message, transfer === undefined ? undefined : [...transfer])
  }

  readonly factory: ScreenMirrorFactory = (options) => {
    const id = this.nextId++
    let end = options.startOffset ?? 0
    let posted = 0
    let parsed = 0
    let cols = options.cols
    let rows = options.rows
    let progress: (() => void) | null = null
    this.parsed.set(id, (total) => {
      parsed = total
      progress?.()
    })
    this.send({ t: "open", id, options })
    const mirror: ScreenMirror = {
      get end() {
        return end
      },
      get backlog() {
        return posted - parsed
      },
      write: (data) => {
        if (data.length === 0) return
        // One copy into a buffer of its own, which is then moved (not cloned) to the worker.
        // (`new Uint8Array(typedArray)` copies; a Buffer's `slice` would share the socket's pool.)
        const copy = new Uint8Array(data)
        end += copy.length
        posted += copy.length
        this.send({ t: "write", id, data: copy }, [copy.buffer as ArrayBuffer])
      },
      resetAt: (offset) => {
        end = offset
        this.send({ t: "reset", id, offset })
      },
      resize: (newCols, newRows) => {
        cols = newCols
        rows = newRows
        this.send({ t: "resize", id, cols: newCols, rows: newRows })
      },
      snapshot: (onReady, maxBytes = Number.MAX_SAFE_INTEGER) => {
        if (this.dead !== null) {
          onReady({ offset: end, cols, rows, data: "" })
          return
        }
        const request = this.nextRequest++
        this.snapshots.set(request, { fallbackOffset: end, done: onReady })
        this.send({ t: "snapshot", id, request, maxBytes })
      },
      onProgress: (listener) => {
        progress = listener
      },
      dispose: () => {
        this.parsed.delete(id)
        this.send({ t: "close", id })
      }
    }
    return mirror
  }

  close(): Promise<number> {
    return this.worker.terminate()
  }
}

/** The program bundle this process runs from, when it runs from one (`dist/tether.cjs`). */
export const runningBundle = (): string | null =>
  typeof __filename === "string" && __filename.endsWith(".cjs") ? __filename : null

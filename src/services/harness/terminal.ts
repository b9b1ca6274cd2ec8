/**
 * The `terminal` harness: runs any program in a pseudo-terminal (node-pty)
 * on this host and relays the terminal, byte for byte, to the server, where
 * viewers watch and type (see docs/protocol/terminal.md). `args` is
 * `[COMMAND, ...ARGUMENTS]`, passed through untouched (no shell).
 *
 * - Output: every byte the PTY produces goes to the terminal channel (the
 *   runner's retransmit buffer). While that buffer is full the PTY is paused,
 *   so a fast program waits instead of the runner buffering without bound.
 *   Linux hands a PTY's output over in reads of at most 4 KiB, one per turn
 *   of the event loop; so that a fast program's output leaves in one frame
 *   per turn rather than one per 4 KiB, the rest of what the PTY already
 *   holds is read at the end of the turn its first bytes arrived in (see
 *   `ptyMaster`). Nothing waits for more output: what is there goes now.
 * - Input: viewers' keystrokes and the controller's size arrive through the
 *   channel. A session `message` is typed into the terminal followed by
 *   Enter; `interrupt` types Ctrl-C (the terminal's line discipline signals
 *   the foreground job, as a keyboard would).
 * - Status: `running` once the program started; when it ends, after its last
 *   output, `exited` with its exit code and a reason (`exit_code`, `stopped`,
 *   or `signal: SIG…`). A command that cannot be found or executed, or a
 *   missing working directory, fails `start` with a clear reason.
 * - Every byte is read: the runner holds the PTY's slave side open until the
 *   exit is handled (see `holdSlave`), and a paused PTY resumes once the
 *   program is gone.
 * - Stop (and closing the session's scope): SIGHUP to the terminal's process
 *   group (what closing a terminal window does), SIGTERM after a moment,
 *   SIGKILL after the grace period. Nothing the program started in its
 *   terminal outlives the session.
 * - Reuse (`makeTerminalHarness` options): `prepare` picks the program, its
 *   arguments and environment from the session; `onStarted` runs alongside
 *   the program (and drains before the finishing status); `submitDelay`
 *   types a message and its Enter separately. The native agent harnesses
 *   (claude-native, codex-native) are built this way.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import type { HarnessCapability } from "../../domain/host.js"
import { importModule } from "../modules/importModule.js"
import { childEnvironment } from "./agents/providers.js"
import type { TerminalSize } from "../terminal/TerminalChannel.js"
import { type ExitInfo, type Harness, HarnessError, type HarnessStartSpec, type RunningSession } from "./Harness.js"

export interface TerminalHarnessOptions {
  /** Between SIGTERM and SIGKILL when stopping. Default 3 s. */
  readonly stopGrace?: Duration.DurationInput
  /** The size a terminal starts with until a controller sets one. Default 80 × 24. */
  readonly initialSize?: TerminalSize
  /** The harness name (the native agent harnesses reuse this one). Default `terminal`. */
  readonly name?: string
  /**
   * Turns the session's args into the program to run (default: `args` is
   * `[COMMAND, ...ARGUMENTS]`, run with the runner's environment). `env`
   * overrides the runner's environment (`undefined` removes a variable).
   */
  readonly prepare?: (spec: HarnessStartSpec) => Effect.Effect<PreparedCommand, HarnessError>
  /**
   * Runs once the program started, in the session's scope (e.g. tailing a
   * transcript the program writes). The returned `drain` runs after the
   * program ended and before the finishing status is emitted, so whatever it
   * emits comes before it.
   */
  readonly onStarted?: (
    spec: HarnessStartSpec,
    started: { readonly pid: number; readonly startedAt: number }
  ) => Effect.Effect<{ readonly drain: Effect.Effect<void> }, never, Scope.Scope>
  /**
   * When set, a session `message` is typed as its text, then Enter after this
   * pause (full-screen agent CLIs treat text and Enter arriving together as a
   * paste and do not submit it). Default: text and Enter in one write.
   */
  readonly submitDelay?: Duration.DurationInput
}

/** The program a session runs, as `prepare` decided. */
export interface PreparedCommand {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string | undefined>>
  /** The first prompt is part of `args` already: do not type it. */
  readonly promptHandled?: boolean
}

const CAPABILITIES: ReadonlyArray<HarnessCapability> = ["streaming", "interrupt", "terminal"]

type NodePty = typeof import("node-pty")

/** node-pty is a native module: loaded on first use, so hosts without it still offer other harnesses. */
const loadPty = (harness: string): Effect.Effect<NodePty, HarnessError> =>
  Effect.tryPromise({
    try: () => importModule<NodePty>("node-pty"),
    catch: (cause) => new HarnessError({ harness, reason: `node-pty cannot be loaded on this host: ${String(cause)}`, cause })
  })

const isExecutableFile = (path: string): boolean => {
  try {
    const stat = NodeFs.statSync(path)
    if (!stat.isFile()) return false
    NodeFs.accessSync(path, NodeFs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The program's path: as given when it contains a slash (relative to cwd), else found on PATH. */
export const resolveCommand = (command: string, cwd: string, path = process.env["PATH"] ?? ""): string | null => {
  if (command.includes("/")) {
    const absolute = NodePath.resolve(cwd, command)
    return isExecutableFile(absolute) ? absolute : null
  }
  for (const directory of path.split(":")) {
    if (directory === "") continue
    const candidate = NodePath.join(directory, command)
    if (isExecutableFile(candidate)) return candidate
  }
  return null
}

/** Signals the terminal's process group (the program is its session leader); gone is fine. */
const signalGroup = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: nothing left. EPERM: not ours any more.
  }
}

/**
 * Keeps the PTY's slave side open in the runner until the program's exit was
 * handled. When the last slave descriptor closes, Linux makes the master
 * return EIO and node-pty tears its stream down with output still unread
 * (the tail of a fast program's output went missing). Holding one descriptor
 * means the master never sees EIO: every byte is read, and node-pty reports
 * the exit 200 ms after the program ended.
 */
const holdSlave = (child: object): { readonly release: () => void } => {
  const path = "_pty" in child && typeof child._pty === "string" ? child._pty : null
  if (path === null) return { release: () => {} }
  let fd: number | null = null
  try {
    fd = NodeFs.openSync(path, NodeFs.constants.O_RDWR | NodeFs.constants.O_NOCTTY)
  } catch {
    return { release: () => {} }
  }
  return {
    release: () => {
      if (fd === null) return
      NodeFs.closeSync(fd)
      fd = null
    }
  }
}

/** Bytes read from a PTY at the end of one event-loop turn, at most (see `ptyMaster`). */
export const PTY_DRAIN_BYTES = 256 * 1024

/** A read at least this long suggests the PTY holds more (Linux hands output over ≤ 4 KiB at a time). */
const PTY_FULL_READ_BYTES = 1024

/** O_NONBLOCK in `/proc/self/fdinfo` flags (octal). */
const O_NONBLOCK = 0o4000

/** Whether `fd` is in non-blocking mode (Linux; elsewhere unknown, so false). */
const isNonBlocking = (fd: number): boolean => {
  try {
    const flags = /^flags:\s*([0-7]+)$/m.exec(NodeFs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1]
    return flags !== undefined && (Number.parseInt(flags, 8) & O_NONBLOCK) !== 0
  } catch {
    return false
  }
}

const errorCode = (error: unknown): unknown =>
  typeof error === "object" && error !== null && "code" in error ? error.code : undefined

/** What the harness needs of node-pty's terminal to use its master directly. */
interface PtyChild {
  readonly write: (data: string | Buffer) => void
}

/**
 * The runner's own access to a PTY's master, next to node-pty's (Linux, and
 * only when the master is non-blocking, as node-pty opens it; anywhere else
 * both fall back to node-pty alone).
 *
 * - `read` returns what the PTY holds right now (at most `PTY_DRAIN_BYTES`),
 *   or null when it has nothing. node-pty reads the master once per turn of
 *   the event loop, and Linux returns at most 4 KiB per read, so a program
 *   printing fast would otherwise go out in 4 KiB frames, each costing a
 *   WebSocket message, a system call on every hop and a wake-up of every
 *   process on the way. It is called at the end of a turn in which node-pty
 *   read a full chunk, so the bytes stay in order. A read error other than
 *   "nothing there" (EIO once the program is gone) stops it for good;
 *   node-pty then meets the same condition on its own next read.
 * - `write` writes keystrokes on this thread, without waiting: node-pty
 *   writes through libuv's thread pool, one more thread to wake (and to wait
 *   for, on a busy machine) between a keystroke and its echo. What does not
 *   fit (a paste larger than the PTY's input buffer) waits, in order, and is
 *   retried once per turn of the event loop, as node-pty does. Input to a
 *   program that is gone (EIO) is dropped.
 */
export const ptyMaster = (
  child: PtyChild & object
): { readonly read: () => Uint8Array | null; readonly write: (data: string | Uint8Array) => void } => {
  const master = process.platform === "linux" && "fd" in child && typeof child.fd === "number" && isNonBlocking(child.fd)
    ? child.fd
    : null
  let readable = master !== null
  let scratch: Buffer | null = null
  const read = (): Uint8Array | null => {
    if (master === null || !readable) return null
    scratch ??= Buffer.allocUnsafe(PTY_DRAIN_BYTES)
    let used = 0
    while (used < scratch.length) {
      let n: number
      try {
        n = NodeFs.readSync(master, scratch, used, scratch.length - used, null)
      } catch (error) {
        if (errorCode(error) !== "EAGAIN") readable = false
        break
      }
      if (n <= 0) break
      used += n
    }
    // A copy of just these bytes: the channel keeps what it is given, the scratch buffer is reused.
    return used === 0 ? null : Buffer.from(scratch.subarray(0, used))
  }
  /** Bytes that did not fit yet (copies: the caller's buffers are not ours to keep). */
  const pending: Array<Uint8Array> = []
  /** Writes as much of `bytes` as fits now; returns how much was written, or null when the program is gone. */
  const writeNow = (fd: number, bytes: Uint8Array): number | null => {
    try {
      return NodeFs.writeSync(fd, bytes)
    } catch (error) {
      return errorCode(error) === "EAGAIN" ? 0 : null
    }
  }
  const flush = (): void => {
    while (master !== null && pending.length > 0) {
      const head = pending[0]!
      const n = writeNow(master, head)
      if (n === null) {
        pending.length = 0
        return
      }
      if (n < head.length) {
        pending[0] = head.subarray(n)
        setImmediate(flush)
        return
      }
      pending.shift()
    }
  }
  const write = (data: string | Uint8Array): void => {
    if (master === null) {
      child.write(typeof data === "string" ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength))
      return
    }
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data
    if (bytes.length === 0) return
    if (pending.length > 0) {
      pending.push(Uint8Array.from(bytes))
      return
    }
    const n = writeNow(master, bytes)
    if (n !== null && n < bytes.length) {
      pending.push(Uint8Array.from(bytes.subarray(n)))
      setImmediate(flush)
    }
  }
  return { read, write }
}

/** Whether a process still exists (a reaped child does not). */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return typeof error === "object" && error !== null && "code" in error && error.code === "EPERM"
  }
}

/** The runner's environment with `overrides` applied, for a terminal program. */
const programEnvironment = (overrides: Readonly<Record<string, string | undefined>>): Record<string, string> => ({
  ...childEnvironment(overrides),
  TERM: "xterm-256color",
  COLORTERM: process.env["COLORTERM"] ?? "truecolor"
})

const SIGNAL_NAMES: Readonly<Record<number, string>> = { 1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 6: "SIGABRT", 9: "SIGKILL", 15: "SIGTERM" }

export const makeTerminalHarness = (options: TerminalHarnessOptions = {}): Harness => {
  const name = options.name ?? "terminal"
  const stopGrace = Duration.decode(options.stopGrace ?? "3 seconds")
  const initialSize = options.initialSize ?? { cols: 80, rows: 24 }
  const fail = (reason: string) => new HarnessError({ harness: name, reason })

  const submitDelay = options.submitDelay === undefined ? null : Duration.decode(options.submitDelay)

  const start = Effect.fn("TerminalHarness.start")(function*(spec: HarnessStartSpec) {
    const prepared: PreparedCommand = options.prepare === undefined
      ? { command: spec.args[0] ?? "", args: spec.args.slice(1) }
      : yield* options.prepare(spec)
    const { command, args } = prepared
    if (command === undefined || command.length === 0) {
      return yield* fail("needs a command: args are [COMMAND, ...ARGUMENTS]")
    }
    const cwdOk = yield* Effect.sync(() => {
      try {
        return NodeFs.statSync(spec.cwd).isDirectory() ? null : `working directory ${spec.cwd} is not a directory`
      } catch {
        return `working directory ${spec.cwd} does not exist`
      }
    })
    if (cwdOk !== null) return yield* fail(cwdOk)
    const file = resolveCommand(command, spec.cwd)
    if (file === null) return yield* fail(`cannot start ${JSON.stringify(command)}: command not found or not executable`)
    const pty = yield* loadPty(name)

    const size = spec.size ?? initialSize
    const channel = yield* spec.terminal.open(spec.sessionId, size)
    const processExit = yield* Deferred.make<{ readonly code: number | null; readonly signal: string | null }>()
    const finished = yield* Deferred.make<ExitInfo>()

    const child = yield* Effect.try({
      try: () =>
        pty.spawn(file, [...args], {
          name: "xterm-256color",
          cols: size.cols,
          rows: size.rows,
          cwd: spec.cwd,
          env: programEnvironment(prepared.env ?? {}),
          encoding: null
        }),
      catch: (cause) => new HarnessError({ harness: name, reason: `cannot start ${JSON.stringify(command)}: ${String(cause)}`, cause })
    })
    const pid = child.pid
    const startedAt = Date.now()
    const slave = holdSlave(child)
    let exited = false
    let stopRequested = false

    /**
     * Backpressure: while the relay's buffer is full the PTY is paused. node-pty
     * discards whatever is unread 200 ms after the program exits, so while
     * paused the program is watched: once it is gone, reading resumes for good
     * (what is left is bounded by the kernel's PTY buffer) and nothing is lost.
     */
    let paused = false
    let draining = false
    let watch: NodeJS.Timeout | null = null
    const stopWatching = () => {
      if (watch !== null) clearInterval(watch)
      watch = null
    }
    const resumeReading = () => {
      stopWatching()
      if (paused) {
        paused = false
        child.resume()
      }
    }
    const deliver = (bytes: Uint8Array) => {
      if (!channel.write(bytes) && !draining && !paused) {
        paused = true
        child.pause()
        watch = setInterval(() => {
          if (!isAlive(pid)) {
            draining = true
            resumeReading()
          }
        }, 40)
      }
    }
    // After a full read, the rest of what the PTY holds is read at the end of the turn (before the
    // channel flushes: immediates run in order, and this one is queued before the write that
    // schedules the flush). A short read (a keystroke's echo) leaves nothing behind to wait for.
    const master = ptyMaster(child)
    let drainQueued = false
    const drainRest = () => {
      drainQueued = false
      if (paused || draining || exited) return
      const rest = master.read()
      if (rest !== null) deliver(rest)
    }
    child.onData((data: string | Buffer) => {
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data
      if (!drainQueued && bytes.length >= PTY_FULL_READ_BYTES) {
        drainQueued = true
        setImmediate(drainRest)
      }
      deliver(bytes)
    })
    channel.onWritable(resumeReading)
    channel.onInput((data) => {
      if (!exited) master.write(data)
    })
    channel.onResize(({ cols, rows }) => {
      if (exited) return
      try {
        child.resize(cols, rows)
      } catch {
        // The PTY closed between the exit check and the resize.
      }
    })
    child.onExit(({ exitCode, signal }) => {
      exited = true
      stopWatching()
      slave.release()
      const signalName = signal !== undefined && signal > 0 ? (SIGNAL_NAMES[signal] ?? `SIG${signal}`) : null
      Deferred.unsafeDone(processExit, Effect.succeed({ code: signalName === null ? exitCode : null, signal: signalName }))
    })

    yield* spec.emit({ type: "status", status: "running", reason: null, exitCode: null })
    const hooks = options.onStarted === undefined
      ? { drain: Effect.void }
      : yield* options.onStarted(spec, { pid, startedAt })

    const supervise = Effect.gen(function*() {
      const exit = yield* Deferred.await(processExit)
      yield* hooks.drain.pipe(Effect.timeout("5 seconds"), Effect.ignore)
      channel.exit(exit.code, exit.signal)
      const reason = stopRequested ? "stopped" : exit.signal !== null ? `signal: ${exit.signal}` : "exit_code"
      yield* spec.emit({ type: "status", status: "exited", reason, exitCode: exit.code })
      yield* Deferred.succeed(finished, { exitCode: exit.code })
    })

    const takeDown = Effect.gen(function*() {
      if (yield* Deferred.isDone(processExit)) return
      signalGroup(pid, "SIGHUP")
      const gone = yield* Deferred.await(processExit).pipe(Effect.timeout("500 millis"), Effect.option)
      if (gone._tag === "Some") return
      signalGroup(pid, "SIGTERM")
      const terminated = yield* Deferred.await(processExit).pipe(Effect.timeout(stopGrace), Effect.option)
      if (terminated._tag === "Some") return
      signalGroup(pid, "SIGKILL")
      yield* Deferred.await(processExit).pipe(Effect.timeout("2 seconds"), Effect.ignore)
    })

    const stop: Effect.Effect<void> = Effect.gen(function*() {
      if (!(yield* Deferred.isDone(processExit))) stopRequested = true
      yield* takeDown
      yield* Deferred.await(finished).pipe(Effect.timeout("2 seconds"), Effect.ignore)
    }).pipe(Effect.withSpan("TerminalHarness.stop"))

    yield* Effect.forkScoped(supervise)
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(stop, Effect.sync(() => {
        stopWatching()
        slave.release()
      }))
    )

    const typeText = (text: string): Effect.Effect<void, HarnessError> =>
      Effect.suspend(() => {
        if (exited) return Effect.fail(fail("the program has exited; the input was not delivered"))
        if (submitDelay === null) {
          master.write(text.endsWith("\r") || text.endsWith("\n") ? text : `${text}\r`)
          return Effect.void
        }
        const body = text.replace(/[\r\n]+$/, "")
        if (body.length > 0) master.write(body)
        return Effect.zipRight(
          Effect.sleep(submitDelay),
          Effect.sync(() => {
            if (!exited) master.write("\r")
          })
        )
      })

    if (spec.prompt !== null && prepared.promptHandled !== true) yield* Effect.ignore(typeText(spec.prompt))

    const running: RunningSession = {
      send: typeText,
      interrupt: Effect.sync(() => {
        if (!exited) master.write("\x03")
      }),
      stop,
      resolveApproval: () => Effect.fail(fail("terminal sessions have no approvals to resolve")),
      exited: Deferred.await(finished)
    }
    return running
  })

  return {
    name,
    capabilities: CAPABILITIES,
    readiness: Effect.map(Effect.either(loadPty(name)), (loaded) =>
      loaded._tag === "Right"
        ? { ready: true, detail: null }
        : { ready: false, detail: loaded.left.reason }),
    start
  }
}

export const terminalHarness: Harness = makeTerminalHarness()

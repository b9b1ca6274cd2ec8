/**
 * The `shell` harness: runs a command directly (no shell interpretation) in
 * the session's working directory. `args` is `[COMMAND, ...ARGUMENTS]`.
 *
 * - Input: each user message (and the initial prompt, when there is one) is
 *   written to the process's stdin as one line (a newline is appended unless
 *   the text already ends with one). Nothing is echoed as a `user` message:
 *   the server records the input it accepted.
 * - Output: every line the process writes becomes a `message` event as soon
 *   as it is complete: stdout lines with role `assistant`, stderr lines with
 *   role `system` (stderr carries progress and diagnostics as often as
 *   errors, so it is not reported as `error` events). Lines longer than
 *   `maxLineChars` are split; a last line without a newline is still sent.
 *   Reading is backpressured by `emit`: while the outbox is full, the process
 *   blocks on its full pipe instead of the runner buffering without bound.
 * - Status: `running` once the process has started; when it ends, after all
 *   of its output, `exited` with its exit code and a reason: `exit_code`
 *   (it ended by itself), `stopped` (a stop was requested) or `signal: SIG…`
 *   (killed by a signal, e.g. after an interrupt). A command that cannot be
 *   spawned (not found, not executable, missing cwd) fails `start` with a
 *   clear reason, which the caller reports as `status failed`.
 * - The process is spawned detached, in its own process group, so signals
 *   reach everything it started: interrupt sends SIGINT to the group; stop
 *   (and closing the session's scope) sends SIGTERM to the group, then SIGKILL
 *   after the grace period. When the command exits by itself, whatever it
 *   left running in its group is cleaned up the same way, so nothing outlives
 *   the session (processes that detach into a session of their own escape).
 *
 * Surviving the runner: when the runner gives a durable `stateDir`, the
 * command runs under a supervisor that outlives the runner process (its
 * output spooled to files, its input through a FIFO; see
 * `supervisor/supervised-session.ts`), and `reattach` lets a restarted runner
 * continue the session exactly after the last recorded line. Without a
 * `stateDir` the command's stdio are pipes to the runner, as described above.
 * In both modes the events, statuses and signals are the same; in the
 * supervised mode `maxLineChars` counts bytes.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as NodeFs from "node:fs/promises"
import type { HarnessCapability } from "../../domain/host.js"
import type { SessionEvent } from "../../domain/session-event.js"
import {
  type ExitInfo,
  type Harness,
  HarnessError,
  type HarnessStartSpec,
  type RecoveredHarnessState,
  type RunningSession
} from "./Harness.js"
import { decodeCheckpoint, findSupervisor, freshCheckpoint, superviseSession } from "./supervisor/supervised-session.js"
import {
  checkCommand,
  isAlive,
  launchSupervised,
  readPgid,
  signalGroup as signalSupervisedGroup
} from "./supervisor/supervisor.js"

export interface ShellHarnessOptions {
  /** Between SIGTERM and SIGKILL when stopping. Default 3 s. */
  readonly stopGrace?: Duration.DurationInput
  /** After the command exits, how long its output may still take to arrive. Default 500 ms. */
  readonly drainTimeout?: Duration.DurationInput
  /** Longer lines are split into several messages. Default 65 536. */
  readonly maxLineChars?: number
}

const NAME = "shell"
const CAPABILITIES: ReadonlyArray<HarnessCapability> = ["streaming", "interrupt"]

/** Splits decoded text into lines (without `\n` or `\r\n`), cutting lines longer than `max`. */
export class LineSplitter {
  private buffer = ""
  constructor(private readonly max: number) {}

  push(text: string): ReadonlyArray<string> {
    const lines: Array<string> = []
    let rest = this.buffer + text
    for (;;) {
      const newline = rest.indexOf("\n")
      if (newline === -1) break
      lines.push(...this.cut(rest.slice(0, newline).replace(/\r$/, "")))
      rest = rest.slice(newline + 1)
    }
    while (rest.length > this.max) {
      lines.push(rest.slice(0, this.max))
      rest = rest.slice(this.max)
    }
    this.buffer = rest
    return lines
  }

  /** The unterminated last line, if any. */
  flush(): ReadonlyArray<string> {
    const rest = this.buffer
    this.buffer = ""
    return rest.length === 0 ? [] : [rest]
  }

  private cut(line: string): ReadonlyArray<string> {
    if (line.length <= this.max) return [line]
    const parts: Array<string> = []
    for (let i = 0; i < line.length; i += this.max) parts.push(line.slice(i, i + this.max))
    return parts
  }
}

const errnoCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined

const describeSpawnError = (command: string, error: unknown): string => {
  const code = errnoCode(error)
  switch (code) {
    case "ENOENT":
      return `cannot start ${JSON.stringify(command)}: command not found (ENOENT)`
    case "EACCES":
      return `cannot start ${JSON.stringify(command)}: permission denied (EACCES)`
    default:
      return `cannot start ${JSON.stringify(command)}: ${error instanceof Error ? error.message : String(error)}`
  }
}

/** Sends a signal to the whole process group led by `pid`; a group that is gone is fine. */
const signalGroup = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: nothing left in the group. EPERM: not ours any more.
  }
}

interface ProcessExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

interface Spawned {
  readonly child: ChildProcessWithoutNullStreams
  readonly pid: number
  readonly processExit: Deferred.Deferred<ProcessExit>
}

/** Spawns the command in its own process group and waits until it started (or could not). */
const spawnProcess = (command: string, args: ReadonlyArray<string>, cwd: string): Effect.Effect<Spawned, HarnessError> =>
  Effect.flatMap(Deferred.make<ProcessExit>(), (processExit) =>
    Effect.async<Spawned, HarnessError>((resume) => {
      let child: ChildProcessWithoutNullStreams
      try {
        child = spawn(command, args, { cwd, detached: true, stdio: "pipe", env: process.env })
      } catch (error) {
        resume(Effect.fail(new HarnessError({ harness: NAME, reason: describeSpawnError(command, error), cause: error })))
        return
      }
      // Writes after the process exited fail with EPIPE: reported by `send`, never thrown.
      child.stdin.on("error", () => {})
      child.on("exit", (code, signal) => Deferred.unsafeDone(processExit, Effect.succeed({ code, signal })))
      const onSpawn = () => {
        child.off("error", onError)
        child.on("error", () => {}) // later errors (a failed kill) must not crash the runner
        const pid = child.pid
        if (pid === undefined) {
          resume(Effect.fail(new HarnessError({ harness: NAME, reason: describeSpawnError(command, "no pid") })))
          return
        }
        resume(Effect.succeed({ child, pid, processExit }))
      }
      const onError = (error: Error) => {
        child.off("spawn", onSpawn)
        resume(Effect.fail(new HarnessError({ harness: NAME, reason: describeSpawnError(command, error), cause: error })))
      }
      child.once("spawn", onSpawn)
      child.once("error", onError)
    })
  )

const checkDirectory = (cwd: string): Effect.Effect<void, HarnessError> =>
  Effect.tryPromise({
    try: () => NodeFs.stat(cwd),
    catch: (cause) =>
      new HarnessError({
        harness: NAME,
        reason: errnoCode(cause) === "ENOENT" ? `working directory ${cwd} does not exist` : `cannot use working directory ${cwd}: ${String(cause)}`,
        cause
      })
  }).pipe(
    Effect.filterOrFail(
      (stat) => stat.isDirectory(),
      () => new HarnessError({ harness: NAME, reason: `working directory ${cwd} is not a directory` })
    ),
    Effect.asVoid
  )

export const makeShellHarness = (options: ShellHarnessOptions = {}): Harness => {
  const stopGrace = Duration.decode(options.stopGrace ?? "3 seconds")
  const drainTimeout = Duration.decode(options.drainTimeout ?? "500 millis")
  const maxLineChars = options.maxLineChars ?? 65_536

  const start = Effect.fn("ShellHarness.start")(function*(spec: HarnessStartSpec) {
    const [command, ...args] = spec.args
    if (command === undefined || command.length === 0) {
      return yield* new HarnessError({ harness: NAME, reason: "needs a command: args are [COMMAND, ...ARGUMENTS]" })
    }
    yield* checkDirectory(spec.cwd)
    if (spec.stateDir !== undefined && spec.stateDir !== null) {
      const dir = spec.stateDir
      yield* checkCommand(command, spec.cwd)
      const { pgid } = yield* Effect.acquireRelease(
        launchSupervised(dir, command, args, spec.cwd),
        // Last resort when the scope closes (stop already ran): nothing of the session survives it.
        ({ pgid }) => Effect.sync(() => signalSupervisedGroup(pgid, "SIGKILL"))
      )
      const running = yield* superviseSession(spec, dir, pgid, freshCheckpoint(), true, { stopGrace, maxLineBytes: maxLineChars })
      if (spec.prompt !== null) yield* Effect.ignore(running.send(spec.prompt))
      return running
    }
    /** Set once the group was taken down: its id must not be signalled again (it could be reused). */
    let reaped = false
    const { child, pid, processExit } = yield* Effect.acquireRelease(
      spawnProcess(command, args, spec.cwd),
      // Last resort when the scope closes: nothing of the session survives it.
      ({ pid }) => Effect.sync(() => reaped || signalGroup(pid, "SIGKILL"))
    )
    const finished = yield* Deferred.make<ExitInfo>()
    let stopRequested = false
    const nonce = randomUUID().slice(0, 8)
    let messageCount = 0

    const message = (role: "assistant" | "system", text: string): SessionEvent => ({
      type: "message",
      messageId: `${nonce}-${++messageCount}`,
      role,
      text
    })

    const pump = (readable: NodeJS.ReadableStream, role: "assistant" | "system"): Effect.Effect<void> =>
      Stream.suspend(() => {
        const splitter = new LineSplitter(maxLineChars)
        return NodeStream.fromReadable<HarnessError>(() => readable, (cause) => new HarnessError({ harness: NAME, reason: "cannot read output", cause })).pipe(
          Stream.decodeText(),
          Stream.mapConcat((text) => splitter.push(text)),
          Stream.concat(Stream.suspend(() => Stream.fromIterable(splitter.flush())))
        )
      }).pipe(
        Stream.runForEach((line) => spec.emit(message(role, line))),
        Effect.catchTag("HarnessError", (error) => Effect.logWarning("shell: output lost", error))
      )

    const pumps = yield* Effect.forkScoped(
      Effect.all([pump(child.stdout, "assistant"), pump(child.stderr, "system")], { concurrency: 2, discard: true })
    )

    /**
     * Takes the process group down: SIGTERM, then SIGKILL once the leader has
     * exited and the output pipes closed (or the grace period ran out).
     */
    const reap = Effect.gen(function*() {
      if (reaped) return
      signalGroup(pid, "SIGTERM")
      yield* Effect.all([Deferred.await(processExit), Fiber.await(pumps)], { concurrency: 2 }).pipe(
        Effect.timeout(stopGrace),
        Effect.ignore
      )
      signalGroup(pid, "SIGKILL")
      yield* Deferred.await(processExit)
      // A process that left the group may still hold the pipes open: stop reading.
      yield* Fiber.await(pumps).pipe(Effect.timeout(drainTimeout), Effect.ignore)
      yield* Fiber.interrupt(pumps)
      reaped = true
    })

    const send = (text: string): Effect.Effect<void, HarnessError> =>
      Effect.flatMap(Deferred.isDone(processExit), (exited) => {
        if (exited || child.stdin.destroyed || !child.stdin.writable) {
          return Effect.fail(new HarnessError({ harness: NAME, reason: "the process has exited; the input was not delivered" }))
        }
        return Effect.sync(() => {
          child.stdin.write(text.endsWith("\n") ? text : `${text}\n`)
        })
      })

    const supervise = Effect.gen(function*() {
      const exit = yield* Deferred.await(processExit)
      // Let the last output arrive, then clear out anything the command left running.
      yield* Fiber.await(pumps).pipe(Effect.timeout(drainTimeout), Effect.ignore)
      yield* reap
      const reason = stopRequested ? "stopped" : exit.signal !== null ? `signal: ${exit.signal}` : "exit_code"
      yield* spec.emit({ type: "status", status: "exited", reason, exitCode: exit.code })
      yield* Deferred.succeed(finished, { exitCode: exit.code })
    })

    yield* spec.emit({ type: "status", status: "running", reason: null, exitCode: null })
    yield* Effect.forkScoped(supervise)

    const stop: Effect.Effect<void> = Effect.gen(function*() {
      if (!(yield* Deferred.isDone(processExit))) stopRequested = true
      yield* reap
      // The final status may wait on a full outbox; do not hang a shutdown on it.
      yield* Deferred.await(finished).pipe(Effect.timeout(Duration.sum(drainTimeout, "1 second")), Effect.ignore)
    }).pipe(Effect.withSpan("ShellHarness.stop"))

    // Added after `supervise` was forked, so it runs before the fiber is interrupted.
    yield* Effect.addFinalizer(() => stop)

    if (spec.prompt !== null) yield* Effect.ignore(send(spec.prompt))

    const running: RunningSession = {
      send,
      interrupt: Effect.flatMap(Deferred.isDone(processExit), (exited) =>
        exited ? Effect.void : Effect.sync(() => signalGroup(pid, "SIGINT"))),
      stop,
      resolveApproval: () =>
        Effect.fail(new HarnessError({ harness: NAME, reason: "the shell harness has no approvals to resolve" })),
      exited: Deferred.await(finished)
    }
    return running
  })

  /** Continues a supervised session a previous runner process started. */
  const reattach = Effect.fn("ShellHarness.reattach")(function*(spec: HarnessStartSpec, recovered: RecoveredHarnessState) {
    const dir = spec.stateDir
    if (dir === undefined || dir === null) {
      return yield* new HarnessError({ harness: NAME, reason: "the runner keeps no state for this session" })
    }
    const recorded = recovered.checkpoint === null ? null : decodeCheckpoint(recovered.checkpoint)
    if (recovered.checkpoint !== null && recorded === null) {
      return yield* new HarnessError({ harness: NAME, reason: "the session's recorded position is not a shell harness checkpoint" })
    }
    const pgid = yield* findSupervisor(dir)
    // No checkpoint: the previous runner died before recording `running`.
    return yield* superviseSession(spec, dir, pgid, recorded ?? freshCheckpoint(), recorded === null, {
      stopGrace,
      maxLineBytes: maxLineChars
    })
  })

  /** Takes down a supervised command a previous runner left behind: SIGTERM to its group, SIGKILL after the grace period. */
  const abandon = (dir: string): Effect.Effect<void> =>
    Effect.gen(function*() {
      const pgid = readPgid(dir)
      if (pgid === null || !isAlive(pgid)) return
      signalSupervisedGroup(pgid, "SIGTERM")
      const deadline = Date.now() + Duration.toMillis(stopGrace)
      while (isAlive(pgid) && Date.now() < deadline) yield* Effect.sleep("20 millis")
      signalSupervisedGroup(pgid, "SIGKILL")
    }).pipe(Effect.withSpan("ShellHarness.abandon"))

  return {
    name: NAME,
    capabilities: CAPABILITIES,
    readiness: Effect.succeed({ ready: true, detail: null }),
    start,
    reattach,
    abandon
  }
}

export const shellHarness: Harness = makeShellHarness()

/**
 * The `shell` harness's session when the runner has a durable session
 * directory: the command runs under the supervisor (`supervisor.ts`) and
 * survives the runner process; this module turns its spool files into
 * events and drives it through the FIFO and process-group signals.
 *
 * - One reader fiber polls `stdout` then `stderr` (every 20 ms when idle,
 *   every 100 ms after a quiet second),
 *   splits them into lines (`spool-lines.ts`) and records each read's lines
 *   with one `emitAll`: stdout lines as `message` role `assistant`, stderr
 *   lines as role `system`. Every event carries the checkpoint
 *   `{v, out, err, n, id}`: both files' read offsets after it, the message
 *   counter and the message-id prefix. A restarted runner `reattach`es with
 *   the last recorded checkpoint and continues exactly after it: every line
 *   once. Reading waits while the outbox is full (the spool files grow
 *   instead of the runner's memory).
 * - The exit: when the `exit` file appears (or the supervisor is gone without
 *   one), the rest of both files is read, the unterminated last lines are
 *   sent, whatever the command left in its group gets SIGTERM then SIGKILL,
 *   and the finishing status is emitted with a `done` checkpoint: `exited`
 *   with reason `stopped` (a stop was requested), `signal: SIGx` (status
 *   128+N, exit code null), `exit_code`, or `supervisor_lost` (no status).
 * - Input is written to the FIFO (opened non-blocking; a full pipe is
 *   retried every 10 ms). Interrupt sends SIGINT to the group; stop sends
 *   SIGTERM, then SIGKILL after the grace period. Closing the scope (a
 *   graceful runner shutdown) stops the session; a crashed runner leaves it
 *   running for the next one.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { randomUUID } from "node:crypto"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type * as Scope from "effect/Scope"
import type { SessionEvent } from "../../../domain/session-event.js"
import { type ExitInfo, HarnessError, type HarnessStartSpec, type RunningSession } from "../Harness.js"
import { SpoolLines } from "./spool-lines.js"
import { isAlive, readExitStatus, readPgid, signalGroup, SupervisorFiles } from "./supervisor.js"

export interface ShellCheckpoint {
  readonly v: 1
  /** Bytes of `stdout` already turned into events. */
  readonly out: number
  /** Bytes of `stderr` already turned into events. */
  readonly err: number
  /** Messages emitted so far (message ids are `${id}-${n}`). */
  readonly n: number
  readonly id: string
  /** The finishing status was emitted. */
  readonly done?: true
}

const isCount = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0

/** The checkpoint if `value` is one this module wrote, else null. */
export const decodeCheckpoint = (value: unknown): ShellCheckpoint | null => {
  if (typeof value !== "object" || value === null) return null
  const c = value as Record<string, unknown>
  if (c["v"] !== 1 || !isCount(c["out"]) || !isCount(c["err"]) || !isCount(c["n"]) || typeof c["id"] !== "string") return null
  return { v: 1, out: c["out"], err: c["err"], n: c["n"], id: c["id"], ...(c["done"] === true ? { done: true as const } : {}) }
}

export const freshCheckpoint = (): ShellCheckpoint => ({ v: 1, out: 0, err: 0, n: 0, id: randomUUID().slice(0, 8) })

export interface SupervisedOptions {
  readonly stopGrace: Duration.Duration
  readonly maxLineBytes: number
}

const READ_CHUNK = 256 * 1024
const IDLE_POLL = "20 millis"
const QUIET_POLL = "100 millis"

const harnessError = (reason: string, cause?: unknown) => new HarnessError({ harness: "shell", reason, cause })

/** Reads up to `READ_CHUNK` bytes of `path` from `position`; a missing file reads as empty. */
const readFrom = (path: string, position: number): Buffer => {
  let fd: number
  try {
    fd = NodeFs.openSync(path, "r")
  } catch {
    return Buffer.alloc(0)
  }
  try {
    const buffer = Buffer.allocUnsafe(READ_CHUNK)
    const n = NodeFs.readSync(fd, buffer, 0, READ_CHUNK, position)
    return buffer.subarray(0, n)
  } finally {
    NodeFs.closeSync(fd)
  }
}

const signalName = (status: number): string | null => {
  const n = status - 128
  if (n <= 0 || n >= 65) return null
  const found = Object.entries(NodeOs.constants.signals).find(([, number]) => number === n)
  return found === undefined ? null : found[0]
}

/**
 * Runs the session whose supervisor (`pgid`) keeps its files in `dir`, from
 * `checkpoint` on. `announce`: emit `status running` first (a fresh start).
 */
export const superviseSession = (
  spec: HarnessStartSpec,
  dir: string,
  pgid: number,
  checkpoint: ShellCheckpoint,
  announce: boolean,
  options: SupervisedOptions
): Effect.Effect<RunningSession, never, Scope.Scope> =>
  Effect.gen(function*() {
    const finished = yield* Deferred.make<ExitInfo>()
    let stopRequested = false
    let done = false
    let fifo: number | null = null
    let position: ShellCheckpoint = checkpoint
    const out = new SpoolLines(checkpoint.out, options.maxLineBytes)
    const err = new SpoolLines(checkpoint.err, options.maxLineBytes)
    const stdoutPath = NodePath.join(dir, SupervisorFiles.stdout)
    const stderrPath = NodePath.join(dir, SupervisorFiles.stderr)

    const emitAll = (items: ReadonlyArray<{ readonly event: SessionEvent; readonly checkpoint: ShellCheckpoint }>) =>
      spec.emitAll !== undefined
        ? spec.emitAll(items)
        : Effect.forEach(items, (item) => spec.emit(item.event, item.checkpoint), { discard: true })

    /** Turns whatever is new in both files into events (flushing partial lines at the end); true if anything was read. */
    const pumpOnce = (final: boolean): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        const items: Array<{ readonly event: SessionEvent; readonly checkpoint: ShellCheckpoint }> = []
        let read = false
        for (const [spool, path, role] of [[out, stdoutPath, "assistant"], [err, stderrPath, "system"]] as const) {
          const chunk = readFrom(path, spool.readPosition)
          if (chunk.length > 0) read = true
          const lines = [...spool.push(chunk), ...(final && chunk.length === 0 ? spool.flush() : [])]
          for (const line of lines) {
            const n = position.n + 1
            position = role === "assistant" ? { ...position, out: line.end, n } : { ...position, err: line.end, n }
            items.push({
              event: { type: "message", messageId: `${position.id}-${n}`, role, text: line.text },
              checkpoint: position
            })
          }
        }
        return Effect.as(items.length === 0 ? Effect.void : emitAll(items), read)
      })

    const exitKnown = (): boolean => readExitStatus(dir) !== null || !isAlive(pgid)

    const finish = Effect.gen(function*() {
      // Read to the end of both files (the command is gone: they only shrink in what is left).
      while (yield* pumpOnce(false)) {
        // keep reading
      }
      yield* pumpOnce(true)
      const status = readExitStatus(dir)
      // Clear out anything the command left running in its group.
      signalGroup(pgid, "SIGTERM")
      yield* Effect.sleep("100 millis")
      signalGroup(pgid, "SIGKILL")
      done = true
      const signal = status === null ? null : signalName(status)
      const exitCode = status === null || signal !== null ? null : status
      const reason = stopRequested ? "stopped" : status === null ? "supervisor_lost" : signal !== null ? `signal: ${signal}` : "exit_code"
      if (fifo !== null) NodeFs.closeSync(fifo)
      fifo = null
      yield* spec.emit({ type: "status", status: "exited", reason, exitCode }, { ...position, done: true })
      yield* Deferred.succeed(finished, { exitCode })
    })

    const reader = Effect.gen(function*() {
      let idle = 0
      for (;;) {
        const exited = exitKnown()
        const read = yield* pumpOnce(false)
        if (exited) return yield* finish
        idle = read ? 0 : idle + 1
        // Quiet for a second: poll less often.
        if (!read) yield* Effect.sleep(idle > 50 ? QUIET_POLL : IDLE_POLL)
      }
    })

    if (announce) yield* spec.emit({ type: "status", status: "running", reason: null, exitCode: null }, position)
    yield* Effect.forkScoped(reader)

    const openFifo = (): number | null => {
      if (fifo !== null) return fifo
      try {
        fifo = NodeFs.openSync(NodePath.join(dir, SupervisorFiles.stdin), NodeFs.constants.O_WRONLY | NodeFs.constants.O_NONBLOCK)
        return fifo
      } catch {
        return null // ENXIO: nobody reads it any more
      }
    }

    const gone = () => harnessError("the process has exited; the input was not delivered")

    const send = (text: string): Effect.Effect<void, HarnessError> =>
      Effect.gen(function*() {
        if (done || readExitStatus(dir) !== null) return yield* gone()
        const fd = openFifo()
        if (fd === null) return yield* gone()
        let bytes = Buffer.from(text.endsWith("\n") ? text : `${text}\n`)
        while (bytes.length > 0) {
          if (done) return yield* gone()
          try {
            bytes = bytes.subarray(NodeFs.writeSync(fd, bytes))
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code
            if (code !== "EAGAIN") return yield* harnessError(`cannot deliver the input: ${String(error)}`, error)
            yield* Effect.sleep("10 millis")
          }
        }
      })

    const stop: Effect.Effect<void> = Effect.gen(function*() {
      if (yield* Deferred.isDone(finished)) return
      if (!exitKnown()) stopRequested = true
      signalGroup(pgid, "SIGTERM")
      // Finalizers run uninterruptibly: the waits must be interruptible themselves for the timeouts to work.
      const ended = yield* Effect.interruptible(Deferred.await(finished)).pipe(Effect.timeout(options.stopGrace), Effect.option)
      if (ended._tag === "Some") return
      if (!done) signalGroup(pgid, "SIGKILL")
      // The final status may wait on a full outbox; do not hang a shutdown on it.
      yield* Effect.interruptible(Deferred.await(finished)).pipe(Effect.timeout("2 seconds"), Effect.ignore)
    }).pipe(Effect.withSpan("ShellHarness.stop"))

    yield* Effect.addFinalizer(() => stop)

    const running: RunningSession = {
      send,
      interrupt: Effect.sync(() => {
        if (!done && !exitKnown()) signalGroup(pgid, "SIGINT")
      }),
      stop,
      resolveApproval: () => Effect.fail(harnessError("the shell harness has no approvals to resolve")),
      exited: Deferred.await(finished)
    }
    return running
  })

/** Whether a previous runner left something to re-attach to in `dir`: the supervisor's pgid, alive or with a recorded exit. */
export const findSupervisor = (dir: string): Effect.Effect<number, HarnessError> =>
  Effect.suspend(() => {
    const pgid = readPgid(dir)
    if (pgid === null) return Effect.fail(harnessError("the session's supervisor never recorded its process group"))
    if (!isAlive(pgid) && readExitStatus(dir) === null) {
      return Effect.fail(harnessError("the session's process is gone and left no exit status"))
    }
    return Effect.succeed(pgid)
  })

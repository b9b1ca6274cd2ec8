/**
 * Follows an agent CLI's own transcript (a JSONL file the CLI appends to)
 * and turns each new line into session events. Contract:
 *
 * - `locate` is asked every poll until it names the session's file and the
 *   offset to start at (bytes before it were written before this session).
 * - Only whole lines are read (a line still being written waits for its
 *   newline); lines that are not JSON, or longer than 8 MiB, are skipped; each line's events are
 *   emitted in file order, awaiting `emit` (backpressure).
 * - `drain` (after the CLI ended) reads whatever is left, then stops; the
 *   poller also stops with the session's scope.
 *
 * The screen is never read: this is the only source of `message` events.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { closeSync, fstatSync, openSync, readSync } from "node:fs"
import type { SessionEvent } from "../../../domain/session-event.js"

export interface TranscriptLocation {
  readonly path: string
  /** Where this session's lines start (the file's size at start when it already existed). */
  readonly offset: number
}

export interface TranscriptSource {
  /** The session's transcript, or null while the CLI has not written it yet. */
  readonly locate: () => TranscriptLocation | null
  /** The events one parsed line stands for (may keep state across lines). */
  readonly toEvents: (line: unknown) => ReadonlyArray<SessionEvent>
}

/** The most read at once; a single line longer than this is skipped. */
const CHUNK = 8 << 20

/** Reads the bytes after `offset` (up to CHUNK per call); empty when nothing new or the file is gone. */
const readFrom = (path: string, offset: number): Buffer => {
  let fd: number | null = null
  try {
    fd = openSync(path, "r")
    const size = fstatSync(fd).size
    if (size <= offset) return Buffer.alloc(0)
    const buffer = Buffer.alloc(Math.min(CHUNK, size - offset))
    const read = readSync(fd, buffer, 0, buffer.length, offset)
    return buffer.subarray(0, read)
  } catch {
    return Buffer.alloc(0)
  } finally {
    if (fd !== null) closeSync(fd)
  }
}

const parseLine = (line: string): unknown => {
  try {
    return JSON.parse(line) as unknown
  } catch {
    return undefined
  }
}

export const tailTranscript = (
  source: TranscriptSource,
  emit: (event: SessionEvent) => Effect.Effect<void>,
  options: { readonly interval?: Duration.DurationInput } = {}
): Effect.Effect<{ readonly drain: Effect.Effect<void> }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const interval = Duration.decode(options.interval ?? "200 millis")
    let location: TranscriptLocation | null = null
    let offset = 0
    /** Inside a line longer than CHUNK: its bytes are dropped up to its newline. */
    let skipping = false

    /** Emits the whole lines written since the last read; true when more may be waiting already. */
    const step: Effect.Effect<boolean> = Effect.suspend(() => {
      if (location === null) {
        location = source.locate()
        if (location === null) return Effect.succeed(false)
        offset = location.offset
      }
      const bytes = readFrom(location.path, offset)
      if (skipping) {
        const newline = bytes.indexOf(0x0a)
        if (newline < 0) {
          offset += bytes.length
          return Effect.succeed(bytes.length === CHUNK)
        }
        offset += newline + 1
        skipping = false
        return Effect.succeed(true)
      }
      const end = bytes.lastIndexOf(0x0a)
      if (end < 0) {
        if (bytes.length < CHUNK) return Effect.succeed(false)
        skipping = true
        offset += bytes.length
        return Effect.succeed(true)
      }
      offset += end + 1
      const lines = bytes.subarray(0, end).toString("utf8").split("\n")
      return Effect.as(
        Effect.forEach(lines, (line) => {
          const parsed = line.trim() === "" ? undefined : parseLine(line)
          return parsed === undefined ? Effect.void : Effect.forEach(source.toEvents(parsed), (event) => emit(event), { discard: true })
        }, { discard: true }),
        bytes.length === CHUNK
      )
    })

    const stopping = yield* Deferred.make<void>()
    const loop = Effect.gen(function*() {
      while (true) {
        const more = yield* step
        if (more) continue
        if (yield* Deferred.isDone(stopping)) return
        yield* Effect.race(Effect.sleep(interval), Deferred.await(stopping))
      }
    })
    // Interruptible even when started from an uninterruptible region (the
    // runner starts sessions in one): `race` must be able to cancel its loser.
    const fiber = yield* Effect.forkScoped(Effect.interruptible(loop))
    const drain = Effect.zipRight(Deferred.succeed(stopping, undefined), Fiber.join(fiber))
    return { drain }
  })

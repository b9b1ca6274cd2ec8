/**
 * One session's journal on disk: `<session dir>/outbox.journal` (0600, in a
 * 0700 directory). Appends are one `write` followed by `fdatasync`, so when
 * `append` returns the records are durable; compaction replaces the file
 * atomically (temporary file, fsync, rename, directory fsync) with a header
 * and the unacknowledged events.
 *
 * Callers serialise calls per journal (the outbox holds a per-session lock):
 * a `JournalFile` is not safe for concurrent use.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import { describeFsError, writeFileAtomic } from "../../services/files/atomic-write.js"
import { encodeCompacted, type JournalState, replay } from "./journal-format.js"

export const JOURNAL_FILE = "outbox.journal"

/** The journal could not be read or written (disk full, permissions …). */
export class JournalError extends Data.TaggedError("JournalError")<{
  readonly path: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `${this.path}: ${describeFsError(this.cause)}`
  }
}

export interface JournalFile {
  readonly dir: string
  readonly path: string
  /** Appends encoded records and waits until they are on disk. */
  readonly append: (lines: string) => Effect.Effect<void, JournalError>
  /** Replaces the journal with a header and the given unacknowledged events. */
  readonly compact: (state: Pick<JournalState, "acked" | "checkpoint" | "entries">) => Effect.Effect<void, JournalError>
  /** Closes the file and removes the session's whole directory. */
  readonly remove: Effect.Effect<void>
  /** Closes the file (the journal stays for the next runner). */
  readonly close: Effect.Effect<void>
}

const attempt = <A>(path: string, run: () => Promise<A>): Effect.Effect<A, JournalError> =>
  Effect.tryPromise({ try: run, catch: (cause) => new JournalError({ path, cause }) })

const openAppend = (path: string) => attempt(path, () => NodeFs.open(path, "a", 0o600))

/**
 * Opens (creating it and its directory when missing) a session's journal
 * and replays it. A torn or corrupt tail is dropped by rewriting the journal
 * compacted, so later appends never follow damaged bytes.
 */
export const openJournal = (dir: string): Effect.Effect<{ readonly file: JournalFile; readonly state: JournalState }, JournalError> =>
  Effect.gen(function*() {
    const path = NodePath.join(dir, JOURNAL_FILE)
    yield* attempt(dir, () => NodeFs.mkdir(dir, { recursive: true, mode: 0o700 }))
    const content = yield* attempt(path, () => NodeFs.readFile(path)).pipe(
      Effect.catchIf((e) => (e.cause as NodeJS.ErrnoException).code === "ENOENT", () => Effect.succeed(new Uint8Array(0)))
    )
    const state = replay(content)
    if (state.droppedBytes > 0) {
      yield* Effect.logWarning(`outbox: ${path}: dropped a damaged tail of ${state.droppedBytes} bytes (a crash mid-append)`)
    }
    if (state.droppedBytes > 0) {
      yield* writeFileAtomic(path, encodeCompacted(state), { mode: 0o600 }).pipe(
        Effect.mapError((e) => new JournalError({ path, cause: e.cause }))
      )
    }
    let handle = yield* openAppend(path)

    const closeHandle = Effect.promise(() => handle.close().catch(() => undefined))

    const file: JournalFile = {
      dir,
      path,
      append: (lines) =>
        attempt(path, async () => {
          await handle.write(lines)
          await handle.datasync()
        }),
      compact: (next) =>
        Effect.gen(function*() {
          yield* writeFileAtomic(path, encodeCompacted(next), { mode: 0o600 }).pipe(
            Effect.mapError((e) => new JournalError({ path, cause: e.cause }))
          )
          // The old handle points at the replaced inode: append to the new file from now on.
          yield* closeHandle
          handle = yield* openAppend(path)
        }),
      remove: Effect.zipRight(closeHandle, Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }).catch(() => undefined))),
      close: closeHandle
    }
    return { file, state }
  })

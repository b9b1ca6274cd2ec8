/**
 * The ConfigWriter service: plan → diff → backup → atomic write of a coding
 * client's config files.
 *
 * `plan` reads the files a client writer may touch, runs the (pure) writer
 * and returns every file with its old and new text and a unified diff.
 * `apply` writes only files whose text changes: the old file is first copied
 * to `<file>.tether-backup-<UTC timestamp>` (mode 0600, it may hold secrets),
 * then replaced atomically. Existing files keep their mode unless they now
 * hold a secret (then 0600); new files get the writer's mode. Running the
 * same plan twice changes nothing the second time.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as NodeFs from "node:fs/promises"
import * as NodePath from "node:path"
import { describeFsError, writeFileAtomic } from "../files/atomic-write.js"
import { unifiedDiff } from "./diff.js"
import type { ClientWriter, WriterInput } from "./model.js"
import { UnreadableConfig } from "./model.js"

/** An existing config file could not be parsed, so it cannot be merged into. */
export class ConfigMergeError extends Schema.TaggedError<ConfigMergeError>()("ConfigMergeError", {
  path: Schema.String,
  message: Schema.String
}) {}

/** Reading or writing a config file failed. */
export class ConfigWriteError extends Schema.TaggedError<ConfigWriteError>()("ConfigWriteError", {
  path: Schema.String,
  message: Schema.String
}) {}

export interface FileChange {
  readonly path: string
  /** Current text; undefined when the file does not exist. */
  readonly before: string | undefined
  readonly after: string
  readonly mode: number
  readonly holdsSecret: boolean
  readonly changed: boolean
  /** Unified diff (empty when unchanged). */
  readonly diff: string
}

export interface WritePlan {
  readonly client: ClientWriter
  readonly changes: ReadonlyArray<FileChange>
  readonly notes: ReadonlyArray<string>
  readonly usage: ReadonlyArray<string>
}

export interface AppliedFile {
  readonly path: string
  /** Where the previous version was saved, if there was one. */
  readonly backup: string | undefined
}

const readIfExists = (path: string): Effect.Effect<string | undefined, ConfigWriteError> =>
  Effect.tryPromise({
    try: () => NodeFs.readFile(path, "utf8"),
    catch: (cause) => cause
  }).pipe(
    Effect.catchAll((cause) =>
      (cause as NodeJS.ErrnoException).code === "ENOENT"
        ? Effect.succeed(undefined)
        : Effect.fail(new ConfigWriteError({ path, message: `cannot read ${path}: ${describeFsError(cause)}` }))
    )
  )

/** `2026-11-21T17:05:09.123Z` → `20261121T170509Z`. */
export const backupStamp = (millis: number): string =>
  new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "")

export class ConfigWriter extends Effect.Service<ConfigWriter>()("tether/ConfigWriter", {
  succeed: {
    plan: Effect.fn("ConfigWriter.plan")(function*(client: ClientWriter, input: WriterInput) {
      const current = new Map<string, string | undefined>()
      for (const path of client.paths(input)) current.set(path, yield* readIfExists(path))
      const planned = yield* Effect.try({
        try: () => client.plan(input, (path) => current.get(path)),
        catch: (error) =>
          error instanceof UnreadableConfig
            ? new ConfigMergeError({ path: error.path, message: error.message })
            : new ConfigMergeError({ path: "", message: `internal error in the ${client.displayName} writer: ${String(error)}` })
      })
      const changes = planned.files.map((file): FileChange => {
        const before = current.get(file.path)
        return {
          path: file.path,
          before,
          after: file.content,
          mode: file.mode,
          holdsSecret: file.holdsSecret,
          changed: before !== file.content,
          diff: unifiedDiff(file.path, before, file.content)
        }
      })
      return { client, changes, notes: planned.notes, usage: planned.usage } satisfies WritePlan
    }),

    apply: Effect.fn("ConfigWriter.apply")(function*(plan: WritePlan) {
      const stamp = backupStamp(yield* Clock.currentTimeMillis)
      const applied: Array<AppliedFile> = []
      for (const change of plan.changes) {
        if (!change.changed) continue
        const fail = (cause: unknown) =>
          new ConfigWriteError({ path: change.path, message: `cannot write ${change.path}: ${describeFsError(cause)}` })
        yield* Effect.tryPromise({ try: () => NodeFs.mkdir(NodePath.dirname(change.path), { recursive: true, mode: 0o700 }), catch: fail })
        let backup: string | undefined
        let mode = change.mode
        if (change.before !== undefined) {
          const stat = yield* Effect.tryPromise({ try: () => NodeFs.stat(change.path), catch: fail })
          mode = change.holdsSecret ? 0o600 : stat.mode & 0o777
          backup = `${change.path}.tether-backup-${stamp}`
          yield* writeFileAtomic(backup, change.before, { mode: 0o600 }).pipe(Effect.mapError((e) => fail(e.cause)))
        }
        yield* writeFileAtomic(change.path, change.after, { mode }).pipe(Effect.mapError((e) => fail(e.cause)))
        applied.push({ path: change.path, backup })
      }
      return applied as ReadonlyArray<AppliedFile>
    })
  }
}) {}

/**
 * SessionRepo: the `sessions` table, one row per agent session.
 *
 * Events are appended (and `lastSeq`, `lastRseq` and the status columns kept
 * in step) by `EventStore`; this repository creates, lists, edits and deletes
 * the rows themselves.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { SessionStatus } from "../../domain/session-event.js"
import { column, EpochMillis } from "../storage/columns.js"

export const SessionRow = Schema.Struct({
  id: Schema.String,
  hostId: Schema.String,
  harness: Schema.String,
  cwd: Schema.String,
  args: Schema.Array(Schema.String),
  title: Schema.NullOr(Schema.String),
  status: SessionStatus,
  statusReason: Schema.NullOr(Schema.String),
  exitCode: Schema.NullOr(Schema.Int),
  archived: Schema.Boolean,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  /** The seq of the newest event (0 when none). */
  lastSeq: Schema.Int,
  /** The highest runner sequence stored (0 when none). */
  lastRseq: Schema.Int,
  forkedFrom: Schema.NullOr(Schema.String),
  forkedUpToSeq: Schema.NullOr(Schema.Int),
  createdBy: Schema.String
})
export type SessionRow = typeof SessionRow.Type

/** A boolean in an INT column holding 0 or 1. */
const BooleanFromInt = Schema.transform(Schema.Literal(0, 1), Schema.Boolean, {
  strict: true,
  decode: (value) => value === 1,
  encode: (value) => (value ? 1 : 0)
})

/** A SessionRow as stored: snake_case columns, BIGINT times, args as JSON text, archived as 0/1. */
const SessionRecord = Schema.Struct({
  id: Schema.String,
  hostId: column("host_id", Schema.String),
  harness: Schema.String,
  cwd: Schema.String,
  args: Schema.parseJson(Schema.Array(Schema.String)),
  title: Schema.NullOr(Schema.String),
  status: SessionStatus,
  statusReason: column("status_reason", Schema.NullOr(Schema.String)),
  exitCode: column("exit_code", Schema.NullOr(Schema.Int)),
  archived: BooleanFromInt,
  createdAt: column("created_at", EpochMillis),
  updatedAt: column("updated_at", EpochMillis),
  lastSeq: column("last_seq", Schema.Int),
  lastRseq: column("last_rseq", Schema.Int),
  forkedFrom: column("forked_from", Schema.NullOr(Schema.String)),
  forkedUpToSeq: column("forked_up_to_seq", Schema.NullOr(Schema.Int)),
  createdBy: column("created_by", Schema.String)
})

export const SessionListFilter = Schema.Struct({
  status: Schema.optionalWith(SessionStatus, { exact: true }),
  hostId: Schema.optionalWith(Schema.String, { exact: true }),
  harness: Schema.optionalWith(Schema.String, { exact: true }),
  archived: Schema.optionalWith(Schema.Boolean, { exact: true }),
  /** Keyset cursor: only sessions strictly older than this (createdAt, id). */
  before: Schema.optionalWith(Schema.Struct({ createdAt: Schema.Number, id: Schema.String }), { exact: true }),
  limit: Schema.NonNegativeInt
})
export type SessionListFilter = typeof SessionListFilter.Type

/** What a client may change on a session; absent fields stay as they are. */
export interface SessionPatch {
  readonly title?: string | null
  readonly archived?: boolean
}

export interface SessionStatusChange {
  readonly status: SessionStatus
  readonly reason: string | null
  readonly exitCode: number | null
}

export class SessionRepo extends Effect.Service<SessionRepo>()("tether/SessionRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insertRecord = SqlSchema.void({
      Request: SessionRecord,
      execute: (record) => sql`INSERT INTO sessions ${sql.insert(record)}`
    })

    const findRecord = SqlSchema.findOne({
      Request: Schema.String,
      Result: SessionRecord,
      execute: (id) => sql`SELECT * FROM sessions WHERE id = ${id}`
    })

    const listRecords = SqlSchema.findAll({
      Request: SessionListFilter,
      Result: SessionRecord,
      execute: (query) => {
        const conditions = [
          ...(query.status !== undefined ? [sql`status = ${query.status}`] : []),
          ...(query.hostId !== undefined ? [sql`host_id = ${query.hostId}`] : []),
          ...(query.harness !== undefined ? [sql`harness = ${query.harness}`] : []),
          ...(query.archived !== undefined ? [sql`archived = ${query.archived ? 1 : 0}`] : []),
          ...(query.before !== undefined
            ? [
              sql`(created_at < ${query.before.createdAt}
                   OR (created_at = ${query.before.createdAt} AND id < ${query.before.id}))`
            ]
            : [])
        ]
        return sql`
          SELECT * FROM sessions
          WHERE ${sql.and(conditions)}
          ORDER BY created_at DESC, id DESC
          LIMIT ${query.limit}`
      }
    })

    const listRecordsByHost = SqlSchema.findAll({
      Request: Schema.String,
      Result: SessionRecord,
      execute: (hostId) => sql`SELECT * FROM sessions WHERE host_id = ${hostId} ORDER BY created_at DESC, id DESC`
    })

    const listRecordsByStatuses = SqlSchema.findAll({
      Request: Schema.Array(SessionStatus),
      Result: SessionRecord,
      execute: (statuses) =>
        sql`SELECT * FROM sessions WHERE ${sql.in("status", statuses)} ORDER BY created_at DESC, id DESC`
    })

    const insert: (row: SessionRow) => Effect.Effect<void> = Effect.fn("SessionRepo.insert")(
      function*(row: SessionRow) {
        yield* insertRecord(row)
      },
      Effect.orDie
    )

    const get: (id: string) => Effect.Effect<Option.Option<SessionRow>> = Effect.fn("SessionRepo.get")(
      function*(id: string) {
        return yield* findRecord(id)
      },
      Effect.orDie
    )

    /** Sessions matching every given filter, newest first by (createdAt desc, id desc). */
    const list: (query: SessionListFilter) => Effect.Effect<ReadonlyArray<SessionRow>> = Effect.fn("SessionRepo.list")(
      function*(query: SessionListFilter) {
        return yield* listRecords(query)
      },
      Effect.orDie
    )

    /**
     * Changes the title and/or archived flag, stamping `updatedAt` when
     * anything is given. Returns the row as it is afterwards; none if the id
     * is unknown.
     */
    const update: (id: string, patch: SessionPatch, now: number) => Effect.Effect<Option.Option<SessionRow>> = Effect
      .fn("SessionRepo.update")(
        function*(id: string, patch: SessionPatch, now: number) {
          const changes = [
            ...(patch.title !== undefined ? [sql`title = ${patch.title}`] : []),
            ...(patch.archived !== undefined ? [sql`archived = ${patch.archived ? 1 : 0}`] : [])
          ]
          if (changes.length > 0) {
            yield* sql`UPDATE sessions SET ${sql.csv([...changes, sql`updated_at = ${now}`])} WHERE id = ${id}`
          }
          return yield* findRecord(id)
        },
        sql.withTransaction,
        Effect.orDie
      )

    /**
     * Deletes a session with its events and its queued commands, in one
     * transaction. False when the id is unknown.
     */
    const delete_: (id: string) => Effect.Effect<boolean> = Effect.fn("SessionRepo.delete")(
      function*(id: string) {
        // The session row first: on PostgreSQL this waits for an append in
        // progress (which holds the row), so its events are removed as well.
        const deleted = yield* sql`DELETE FROM sessions WHERE id = ${id} RETURNING id`
        yield* sql`DELETE FROM session_events WHERE session_id = ${id}`
        yield* sql`DELETE FROM host_commands WHERE session_id = ${id}`
        return deleted.length > 0
      },
      sql.withTransaction,
      Effect.orDie
    )

    /** The sessions of one host, newest first. */
    const listByHost: (hostId: string) => Effect.Effect<ReadonlyArray<SessionRow>> = Effect.fn(
      "SessionRepo.listByHost"
    )(
      function*(hostId: string) {
        return yield* listRecordsByHost(hostId)
      },
      Effect.orDie
    )

    /** The sessions in any of these statuses, newest first (e.g. those left running at the last shutdown). */
    const listByStatuses: (statuses: ReadonlyArray<SessionStatus>) => Effect.Effect<ReadonlyArray<SessionRow>> = Effect
      .fn("SessionRepo.listByStatuses")(
        function*(statuses: ReadonlyArray<SessionStatus>) {
          if (statuses.length === 0) return []
          return yield* listRecordsByStatuses(statuses)
        },
        Effect.orDie
      )

    /**
     * Sets the status columns directly, without an event. Clients learn of
     * status changes from `status` events: prefer `EventStore.append`, which
     * updates these columns in the same transaction.
     */
    const setStatus: (id: string, change: SessionStatusChange, now: number) => Effect.Effect<void> = Effect.fn(
      "SessionRepo.setStatus"
    )(
      function*(id: string, change: SessionStatusChange, now: number) {
        yield* sql`UPDATE sessions
                   SET status = ${change.status}, status_reason = ${change.reason},
                       exit_code = ${change.exitCode}, updated_at = ${now}
                   WHERE id = ${id}`
      },
      Effect.orDie
    )

    return { insert, get, list, update, delete: delete_, listByHost, listByStatuses, setStatus } as const
  })
}) {}

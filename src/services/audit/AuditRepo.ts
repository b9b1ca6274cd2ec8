/** AuditRepo: the append-only `audit_log` table, read newest first with a keyset cursor. */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AuditAction, AuditOutcome } from "../../domain/audit.js"
import { EpochMillis, escapeLike } from "../storage/columns.js"

export const AuditRow = Schema.Struct({
  id: Schema.String,
  /** Epoch milliseconds. */
  at: Schema.Number,
  action: AuditAction,
  actor: Schema.String,
  peer: Schema.NullOr(Schema.String),
  outcome: AuditOutcome,
  detail: Schema.NullOr(Schema.String)
})
export type AuditRow = typeof AuditRow.Type

/** An AuditRow as stored (the columns already have the field names). */
const AuditRecord = Schema.Struct({ ...AuditRow.fields, at: EpochMillis })

export const AuditListQuery = Schema.Struct({
  action: Schema.optionalWith(AuditAction, { exact: true }),
  /** Matches anywhere in the actor, ignoring case. */
  actor: Schema.optionalWith(Schema.String, { exact: true }),
  /** Only entries at or after this time (epoch ms). */
  since: Schema.optionalWith(Schema.Number, { exact: true }),
  /** Keyset cursor: only entries strictly older than this (at, id). */
  before: Schema.optionalWith(Schema.Struct({ at: Schema.Number, id: Schema.String }), { exact: true }),
  limit: Schema.NonNegativeInt
})
export type AuditListQuery = typeof AuditListQuery.Type

export class AuditRepo extends Effect.Service<AuditRepo>()("tether/AuditRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insertRecord = SqlSchema.void({
      Request: AuditRecord,
      execute: (record) => sql`INSERT INTO audit_log ${sql.insert(record)}`
    })

    const append: (row: AuditRow) => Effect.Effect<void> = Effect.fn("AuditRepo.append")(
      function*(row: AuditRow) {
        yield* insertRecord(row)
      },
      Effect.orDie
    )

    const listRecords = SqlSchema.findAll({
      Request: AuditListQuery,
      Result: AuditRecord,
      execute: (query) => {
        const conditions = [
          ...(query.action !== undefined ? [sql`action = ${query.action}`] : []),
          ...(query.actor !== undefined
            ? [sql`LOWER(actor) LIKE ${`%${escapeLike(query.actor.toLowerCase())}%`} ESCAPE '\\'`]
            : []),
          ...(query.since !== undefined ? [sql`at >= ${query.since}`] : []),
          ...(query.before !== undefined
            ? [sql`(at < ${query.before.at} OR (at = ${query.before.at} AND id < ${query.before.id}))`]
            : [])
        ]
        return sql`
          SELECT * FROM audit_log
          WHERE ${sql.and(conditions)}
          ORDER BY at DESC, id DESC
          LIMIT ${query.limit}`
      }
    })

    /** Entries newest first, ordered by (at desc, id desc). */
    const list: (query: AuditListQuery) => Effect.Effect<ReadonlyArray<AuditRow>> = Effect.fn("AuditRepo.list")(
      function*(query: AuditListQuery) {
        return yield* listRecords(query)
      },
      Effect.orDie
    )

    return { append, list } as const
  })
}) {}

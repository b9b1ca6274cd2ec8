/**
 * UsageRepo: the `gateway_usage` table, one row per inference request, and
 * the per-key totals over a filter.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ProviderFormat } from "../../domain/provider.js"
import { column, EpochMillis } from "../storage/columns.js"

export const UsageRow = Schema.Struct({
  id: Schema.String,
  at: Schema.Number,
  keyId: Schema.String,
  keyPrefix: Schema.String,
  format: ProviderFormat,
  model: Schema.String,
  status: Schema.Int,
  inputTokens: Schema.NullOr(Schema.Int),
  outputTokens: Schema.NullOr(Schema.Int),
  latencyMs: Schema.Int,
  firstByteMs: Schema.NullOr(Schema.Int),
  error: Schema.NullOr(Schema.String)
})
export type UsageRow = typeof UsageRow.Type

/** Integers from either driver (node-postgres returns BIGINT sums as strings). */
const Count = Schema.Union(Schema.Int, Schema.NumberFromString.pipe(Schema.int()))

const UsageRecord = Schema.Struct({
  id: Schema.String,
  at: EpochMillis,
  keyId: column("key_id", Schema.String),
  keyPrefix: column("key_prefix", Schema.String),
  format: ProviderFormat,
  model: Schema.String,
  status: Schema.Int,
  inputTokens: column("input_tokens", Schema.NullOr(Schema.Int)),
  outputTokens: column("output_tokens", Schema.NullOr(Schema.Int)),
  latencyMs: column("latency_ms", Schema.Int),
  firstByteMs: column("first_byte_ms", Schema.NullOr(Schema.Int)),
  error: Schema.NullOr(Schema.String)
})

const TotalRecord = Schema.Struct({
  keyId: column("key_id", Schema.String),
  keyPrefix: column("key_prefix", Schema.String),
  requests: Count,
  errors: Count,
  inputTokens: column("input_tokens", Count),
  outputTokens: column("output_tokens", Count)
})
export type UsageTotalRow = typeof TotalRecord.Type

export interface UsageFilter {
  readonly keyId?: string | undefined
  readonly since?: number | undefined
}

export class UsageRepo extends Effect.Service<UsageRepo>()("tether/UsageRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const where = (filter: UsageFilter) =>
      sql.and([
        ...(filter.keyId === undefined ? [] : [sql`key_id = ${filter.keyId}`]),
        ...(filter.since === undefined ? [] : [sql`at >= ${filter.since}`])
      ])

    const insertRecords = SqlSchema.void({
      Request: Schema.Array(UsageRecord),
      execute: (records) => sql`INSERT INTO gateway_usage ${sql.insert(records)}`
    })

    const listRecords = SqlSchema.findAll({
      Request: Schema.Struct({ keyId: Schema.optional(Schema.String), since: Schema.optional(Schema.Number), limit: Schema.Int }),
      Result: UsageRecord,
      execute: ({ limit, ...filter }) =>
        sql`SELECT * FROM gateway_usage WHERE ${where(filter)} ORDER BY at DESC, id DESC LIMIT ${limit}`
    })

    const totalRecords = SqlSchema.findAll({
      Request: Schema.Struct({ keyId: Schema.optional(Schema.String), since: Schema.optional(Schema.Number) }),
      Result: TotalRecord,
      execute: (filter) =>
        sql`SELECT key_id, MAX(key_prefix) AS key_prefix, COUNT(*) AS requests,
                   SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
                   COALESCE(SUM(input_tokens), 0) AS input_tokens,
                   COALESCE(SUM(output_tokens), 0) AS output_tokens
            FROM gateway_usage WHERE ${where(filter)}
            GROUP BY key_id ORDER BY COUNT(*) DESC, key_id`
    })

    /** Appends rows in one statement. */
    const append: (rows: ReadonlyArray<UsageRow>) => Effect.Effect<void> = Effect.fn("UsageRepo.append")(
      function*(rows: ReadonlyArray<UsageRow>) {
        if (rows.length === 0) return
        yield* insertRecords(rows)
      },
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })
    )

    /** Newest first. */
    const list: (filter: UsageFilter & { readonly limit: number }) => Effect.Effect<ReadonlyArray<UsageRow>> = Effect.fn(
      "UsageRepo.list"
    )(
      function*(filter: UsageFilter & { readonly limit: number }) {
        return yield* listRecords(filter)
      },
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })
    )

    const totals: (filter: UsageFilter) => Effect.Effect<ReadonlyArray<UsageTotalRow>> = Effect.fn("UsageRepo.totals")(
      function*(filter: UsageFilter) {
        return yield* totalRecords(filter)
      },
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })
    )

    return { append, list, totals } as const
  })
}) {}

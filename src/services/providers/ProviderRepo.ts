/**
 * ProviderRepo: the `providers` table. The API key column holds only a
 * value sealed by MasterKey (or NULL); this repository never sees plaintext.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { ProviderFormat, ProviderModel } from "../../domain/provider.js"
import { column, EpochMillis } from "../storage/columns.js"

export const ProviderRow = Schema.Struct({
  name: Schema.String,
  baseUrl: Schema.String,
  format: ProviderFormat,
  /** `v1.…` sealed by MasterKey, bound to the provider name; null when none. */
  sealedApiKey: Schema.NullOr(Schema.String),
  models: Schema.Array(ProviderModel),
  createdAt: Schema.Number,
  createdBy: Schema.String
})
export type ProviderRow = typeof ProviderRow.Type

const ProviderRecord = Schema.Struct({
  name: Schema.String,
  baseUrl: column("base_url", Schema.String),
  format: ProviderFormat,
  sealedApiKey: column("api_key", Schema.NullOr(Schema.String)),
  models: Schema.parseJson(Schema.Array(ProviderModel)),
  createdAt: column("created_at", EpochMillis),
  createdBy: column("created_by", Schema.String)
})

export class ProviderRepo extends Effect.Service<ProviderRepo>()("tether/ProviderRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insertRecord = SqlSchema.void({
      Request: ProviderRecord,
      execute: (record) => sql`INSERT INTO providers ${sql.insert(record)}`
    })
    const findRecord = SqlSchema.findOne({
      Request: Schema.String,
      Result: ProviderRecord,
      execute: (name) => sql`SELECT * FROM providers WHERE name = ${name}`
    })
    const listRecords = SqlSchema.findAll({
      Request: Schema.Void,
      Result: ProviderRecord,
      execute: () => sql`SELECT * FROM providers ORDER BY name`
    })

    /** Inserts a provider; false (nothing written) when the name is taken. */
    const insert: (row: ProviderRow) => Effect.Effect<boolean> = Effect.fn("ProviderRepo.insert")(
      function*(row: ProviderRow) {
        const taken = yield* sql<{ name: string }>`SELECT name FROM providers WHERE name = ${row.name}`
        if (taken.length > 0) return false
        yield* insertRecord(row)
        return true
      },
      sql.withTransaction,
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })
    )

    const get: (name: string) => Effect.Effect<Option.Option<ProviderRow>> = Effect.fn("ProviderRepo.get")(
      function*(name: string) {
        return yield* findRecord(name)
      },
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })
    )

    const list: Effect.Effect<ReadonlyArray<ProviderRow>> = listRecords(undefined).pipe(
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die }),
      Effect.withSpan("ProviderRepo.list")
    )

    /** Deletes a provider; false when there was none. */
    const remove: (name: string) => Effect.Effect<boolean> = Effect.fn("ProviderRepo.remove")(
      function*(name: string) {
        const deleted = yield* sql<{ name: string }>`DELETE FROM providers WHERE name = ${name} RETURNING name`
        return deleted.length > 0
      },
      Effect.catchTags({ SqlError: Effect.die })
    )

    return { insert, get, list, remove } as const
  })
}) {}

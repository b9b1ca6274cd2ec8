/** SettingsRepo: small server-wide key/value settings (e.g. the management password hash). */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

export class SettingsRepo extends Effect.Service<SettingsRepo>()("tether/SettingsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const findValue = SqlSchema.findOne({
      Request: Schema.String,
      Result: Schema.Struct({ value: Schema.String }),
      execute: (key) => sql`SELECT value FROM settings WHERE key = ${key}`
    })

    const upsert = SqlSchema.void({
      Request: Schema.Struct({ key: Schema.String, value: Schema.String, updatedAt: Schema.Number }),
      execute: ({ key, updatedAt, value }) =>
        sql`INSERT INTO settings (key, value, updated_at) VALUES (${key}, ${value}, ${updatedAt})
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`
    })

    const get: (key: string) => Effect.Effect<Option.Option<string>> = Effect.fn("SettingsRepo.get")(
      function*(key: string) {
        return Option.map(yield* findValue(key), (row) => row.value)
      },
      Effect.orDie
    )

    /** Inserts or replaces the value of a key. */
    const set: (key: string, value: string, now: number) => Effect.Effect<void> = Effect.fn("SettingsRepo.set")(
      function*(key: string, value: string, now: number) {
        yield* upsert({ key, value, updatedAt: now })
      },
      Effect.orDie
    )

    return { get, set } as const
  })
}) {}

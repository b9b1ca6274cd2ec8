/**
 * InferenceKeyRepo: the model globs an inference key is restricted to
 * (`inference_key_models`). The key itself is an `access_tokens` row of kind
 * "inference", kept by TokenRepo; a key without a row here is unrestricted.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { column } from "../storage/columns.js"

const ModelsRecord = Schema.Struct({
  keyId: column("key_id", Schema.String),
  models: Schema.parseJson(Schema.Array(Schema.String))
})

export class InferenceKeyRepo extends Effect.Service<InferenceKeyRepo>()("tether/InferenceKeyRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insertRecord = SqlSchema.void({
      Request: ModelsRecord,
      execute: (record) => sql`INSERT INTO inference_key_models ${sql.insert(record)}`
    })
    const findRecord = SqlSchema.findOne({
      Request: Schema.String,
      Result: ModelsRecord,
      execute: (keyId) => sql`SELECT * FROM inference_key_models WHERE key_id = ${keyId}`
    })
    const allRecords = SqlSchema.findAll({
      Request: Schema.Void,
      Result: ModelsRecord,
      execute: () => sql`SELECT * FROM inference_key_models`
    })

    /** Restricts a key to `models` (call in the transaction that creates the key). */
    const setModels: (keyId: string, models: ReadonlyArray<string>) => Effect.Effect<void> = Effect.fn(
      "InferenceKeyRepo.setModels"
    )(
      function*(keyId: string, models: ReadonlyArray<string>) {
        yield* insertRecord({ keyId, models })
      },
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })
    )

    /** The key's globs; null when it is unrestricted. */
    const modelsOf: (keyId: string) => Effect.Effect<ReadonlyArray<string> | null> = Effect.fn("InferenceKeyRepo.modelsOf")(
      function*(keyId: string) {
        return Option.getOrNull(Option.map(yield* findRecord(keyId), (r) => r.models))
      },
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die })
    )

    /** Every restricted key's globs, by key id. */
    const all: Effect.Effect<ReadonlyMap<string, ReadonlyArray<string>>> = allRecords(undefined).pipe(
      Effect.map((records) => new Map(records.map((r) => [r.keyId, r.models] as const))),
      Effect.catchTags({ SqlError: Effect.die, ParseError: Effect.die }),
      Effect.withSpan("InferenceKeyRepo.all")
    )

    return { setModels, modelsOf, all } as const
  })
}) {}

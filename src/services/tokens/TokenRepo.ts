/**
 * TokenRepo: the `access_tokens` table, holding both management access tokens
 * and inference keys. Only the SHA-256 of a secret is stored (`tokenHash`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Scope } from "../../domain/scope.js"
import { column, EpochMillis, NullableEpochMillis } from "../storage/columns.js"

export const TokenKind = Schema.Literal("access", "inference")
export type TokenKind = typeof TokenKind.Type

export const TokenRow = Schema.Struct({
  id: Schema.String,
  kind: TokenKind,
  /** Hex SHA-256 of the whole secret. */
  tokenHash: Schema.String,
  /** The displayable start of the secret, e.g. `tat_AbC123`. */
  prefix: Schema.String,
  name: Schema.String,
  scope: Scope,
  createdAt: Schema.Number,
  lastUsedAt: Schema.NullOr(Schema.Number),
  expiresAt: Schema.NullOr(Schema.Number),
  revokedAt: Schema.NullOr(Schema.Number),
  createdBy: Schema.String
})
export type TokenRow = typeof TokenRow.Type

/** A TokenRow as stored: snake_case columns, BIGINT times. */
const TokenRecord = Schema.Struct({
  id: Schema.String,
  kind: TokenKind,
  tokenHash: column("token_hash", Schema.String),
  prefix: Schema.String,
  name: Schema.String,
  scope: Scope,
  createdAt: column("created_at", EpochMillis),
  lastUsedAt: column("last_used_at", NullableEpochMillis),
  expiresAt: column("expires_at", NullableEpochMillis),
  revokedAt: column("revoked_at", NullableEpochMillis),
  createdBy: column("created_by", Schema.String)
})

export class TokenRepo extends Effect.Service<TokenRepo>()("tether/TokenRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insertRecord = SqlSchema.void({
      Request: TokenRecord,
      execute: (record) => sql`INSERT INTO access_tokens ${sql.insert(record)}`
    })

    const findRecordByHash = SqlSchema.findOne({
      Request: Schema.String,
      Result: TokenRecord,
      execute: (tokenHash) => sql`SELECT * FROM access_tokens WHERE token_hash = ${tokenHash}`
    })

    const findRecordById = SqlSchema.findOne({
      Request: Schema.String,
      Result: TokenRecord,
      execute: (id) => sql`SELECT * FROM access_tokens WHERE id = ${id}`
    })

    const listRecords = SqlSchema.findAll({
      Request: TokenKind,
      Result: TokenRecord,
      execute: (kind) => sql`SELECT * FROM access_tokens WHERE kind = ${kind} ORDER BY created_at DESC, id DESC`
    })

    const findRecordByIdInKind = SqlSchema.findAll({
      Request: Schema.Struct({ kind: TokenKind, id: Schema.String }),
      Result: TokenRecord,
      execute: ({ id, kind }) => sql`SELECT * FROM access_tokens WHERE kind = ${kind} AND id = ${id}`
    })

    // substr comparison rather than LIKE: case-sensitive on both databases
    // (SQLite's LIKE ignores ASCII case) and `%`/`_` in the input stay literal.
    const findRecordsByPrefix = SqlSchema.findAll({
      Request: Schema.Struct({ kind: TokenKind, prefix: Schema.String }),
      Result: TokenRecord,
      execute: ({ kind, prefix }) =>
        sql`SELECT * FROM access_tokens
            WHERE kind = ${kind} AND substr(prefix, 1, ${prefix.length}) = ${prefix}
            ORDER BY created_at DESC, id DESC`
    })

    const insert: (row: TokenRow) => Effect.Effect<void> = Effect.fn("TokenRepo.insert")(
      function*(row: TokenRow) {
        yield* insertRecord(row)
      },
      Effect.orDie
    )

    const findByHash: (tokenHash: string) => Effect.Effect<Option.Option<TokenRow>> = Effect.fn("TokenRepo.findByHash")(
      function*(tokenHash: string) {
        return yield* findRecordByHash(tokenHash)
      },
      Effect.orDie
    )

    const findById: (id: string) => Effect.Effect<Option.Option<TokenRow>> = Effect.fn("TokenRepo.findById")(
      function*(id: string) {
        return yield* findRecordById(id)
      },
      Effect.orDie
    )

    /** All tokens of a kind, newest first. */
    const list: (kind: TokenKind) => Effect.Effect<ReadonlyArray<TokenRow>> = Effect.fn("TokenRepo.list")(
      function*(kind: TokenKind) {
        return yield* listRecords(kind)
      },
      Effect.orDie
    )

    /**
     * The token with exactly this id, or else every token whose prefix starts
     * with the text (newest first; more than one means the text is ambiguous).
     * Blank text matches nothing.
     */
    const findByIdOrPrefix: (kind: TokenKind, idOrPrefix: string) => Effect.Effect<ReadonlyArray<TokenRow>> =
      Effect.fn("TokenRepo.findByIdOrPrefix")(
        function*(kind: TokenKind, idOrPrefix: string) {
          if (idOrPrefix.length === 0) return []
          const exact = yield* findRecordByIdInKind({ kind, id: idOrPrefix })
          if (exact.length > 0) return exact
          return yield* findRecordsByPrefix({ kind, prefix: idOrPrefix })
        },
        Effect.orDie
      )

    /**
     * Marks a token revoked at `at` unless it already is (the first time
     * stays). Returns the row as it is afterwards; none if the id is unknown.
     */
    const revoke: (id: string, at: number) => Effect.Effect<Option.Option<TokenRow>> = Effect.fn("TokenRepo.revoke")(
      function*(id: string, at: number) {
        yield* sql`UPDATE access_tokens SET revoked_at = ${at} WHERE id = ${id} AND revoked_at IS NULL`
        return yield* findRecordById(id)
      },
      sql.withTransaction,
      Effect.orDie
    )

    /** Records last use, in one transaction; a stamp older than the stored one is ignored. */
    const touchLastUsed: (entries: ReadonlyArray<{ readonly id: string; readonly at: number }>) => Effect.Effect<void> =
      Effect.fn("TokenRepo.touchLastUsed")(
        function*(entries: ReadonlyArray<{ readonly id: string; readonly at: number }>) {
          if (entries.length === 0) return
          yield* sql.withTransaction(
            Effect.forEach(
              entries,
              ({ at, id }) =>
                sql`UPDATE access_tokens SET last_used_at = ${at}
                    WHERE id = ${id} AND (last_used_at IS NULL OR last_used_at < ${at})`,
              { discard: true }
            )
          )
        },
        Effect.orDie
      )

    return { insert, findByHash, findById, list, findByIdOrPrefix, revoke, touchLastUsed } as const
  })
}) {}

/**
 * InferenceKeys: `tsk_…` keys for the gateway's `/v1` inference routes. The
 * secret, its hash, expiry, revocation and last use are the TokenStore's
 * (kind "inference"); the model globs a key is restricted to live beside it
 * (InferenceKeyRepo), written in the same transaction as the key.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { AmbiguousToken, TokenNotFound, Unauthorized } from "../../domain/errors.js"
import type { InferenceKeyInfo } from "../../domain/inference-key.js"
import type { TokenRow } from "../tokens/TokenRepo.js"
import { TokenStore } from "../tokens/TokenStore.js"
import { InferenceKeyRepo } from "./InferenceKeyRepo.js"

export interface VerifiedKey {
  readonly row: TokenRow
  /** Model globs; null: every model. */
  readonly models: ReadonlyArray<string> | null
}

const toDate = (ms: number | null) => (ms === null ? null : DateTime.unsafeMake(ms))

export const toKeyInfo = (row: TokenRow, models: ReadonlyArray<string> | null): InferenceKeyInfo => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  models,
  createdAt: DateTime.unsafeMake(row.createdAt),
  expiresAt: toDate(row.expiresAt),
  lastUsedAt: toDate(row.lastUsedAt),
  revokedAt: toDate(row.revokedAt)
})

export class InferenceKeys extends Effect.Service<InferenceKeys>()("tether/InferenceKeys", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const tokens = yield* TokenStore
    const repo = yield* InferenceKeyRepo

    const create = Effect.fn("InferenceKeys.create")(function*(request: {
      readonly name: string
      readonly models?: ReadonlyArray<string> | undefined
      readonly expiresInDays?: number | undefined
      readonly createdBy: string
    }) {
      const models = request.models === undefined ? null : [...new Set(request.models)]
      const issued = yield* sql.withTransaction(
        Effect.tap(
          tokens.issue({
            kind: "inference",
            name: request.name,
            // Unused for inference keys (they never pass the access-token checks); the weakest.
            scope: "read",
            expiresInDays: request.expiresInDays,
            createdBy: request.createdBy
          }),
          (issued) => (models === null ? Effect.void : repo.setModels(issued.row.id, models))
        )
      ).pipe(Effect.catchTag("SqlError", Effect.die))
      return { secret: Redacted.value(issued.token), key: toKeyInfo(issued.row, models) }
    })

    const list = Effect.fn("InferenceKeys.list")(function*() {
      const [rows, models] = yield* Effect.all([tokens.list("inference"), repo.all])
      return rows.map((row) => toKeyInfo(row, models.get(row.id) ?? null))
    })

    const revoke = Effect.fn("InferenceKeys.revoke")(function*(
      idOrPrefix: string
    ): Effect.fn.Return<{ key: InferenceKeyInfo; alreadyRevoked: boolean }, TokenNotFound | AmbiguousToken> {
      const outcome = yield* tokens.revoke("inference", idOrPrefix)
      return { key: toKeyInfo(outcome.row, yield* repo.modelsOf(outcome.row.id)), alreadyRevoked: outcome.alreadyRevoked }
    })

    // A key's globs never change after creation, so they are kept once read
    // (revocation and expiry are checked by TokenStore.verify on every use).
    const globsById = new Map<string, ReadonlyArray<string> | null>()
    const globsOf = (keyId: string): Effect.Effect<ReadonlyArray<string> | null> => {
      const known = globsById.get(keyId)
      if (known !== undefined) return Effect.succeed(known)
      return Effect.tap(repo.modelsOf(keyId), (models) =>
        Effect.sync(() => {
          if (globsById.size >= 10_000) globsById.clear()
          globsById.set(keyId, models)
        }))
    }

    /** Checks a presented `tsk_…` key (format, known, not expired or revoked) and loads its globs. */
    const verify = Effect.fn("InferenceKeys.verify")(function*(presented: string): Effect.fn.Return<VerifiedKey, Unauthorized> {
      const { row } = yield* tokens.verify("inference", presented)
      return { row, models: yield* globsOf(row.id) }
    })

    /** The key whose id or unique prefix this is (for filters), without changing it. */
    const find = Effect.fn("InferenceKeys.find")(function*(idOrPrefix: string) {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* tokens.list("inference")
      const exact = rows.filter((r) => r.id === idOrPrefix)
      return { now, matches: exact.length > 0 ? exact : rows.filter((r) => r.prefix.startsWith(idOrPrefix)) }
    })

    return { create, list, revoke, verify, find } as const
  })
}) {}

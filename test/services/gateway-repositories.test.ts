/**
 * The gateway's storage on SQLite and on PostgreSQL: providers (sealed keys,
 * JSON model lists), inference keys with their globs (one transaction with
 * the token), and usage rows with per-key totals.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { Storage, StorageError } from "../../src/layers/storage.js"
import { ProviderModel } from "../../src/domain/provider.js"
import { InferenceKeyRepo } from "../../src/services/gateway/InferenceKeyRepo.js"
import { InferenceKeys } from "../../src/services/gateway/InferenceKeys.js"
import { MasterKey } from "../../src/services/master-key/MasterKey.js"
import { ProviderRepo, type ProviderRow } from "../../src/services/providers/ProviderRepo.js"
import { TokenRepo } from "../../src/services/tokens/TokenRepo.js"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { UsageRepo, type UsageRow } from "../../src/services/usage/UsageRepo.js"
import { postgresProbe, postgresTestLayer, sqliteTestLayer } from "../support/databases.js"

const Services = Layer.mergeAll(InferenceKeys.Default, ProviderRepo.Default, UsageRepo.Default, MasterKey.fixed(new Uint8Array(32).fill(7))).pipe(
  Layer.provideMerge(Layer.mergeAll(TokenStore.Default, InferenceKeyRepo.Default)),
  Layer.provideMerge(TokenRepo.Default)
)

const provider = (name: string, overrides: Partial<ProviderRow> = {}): ProviderRow => ({
  name,
  baseUrl: "http://127.0.0.1:1/v1",
  format: "openai-chat",
  sealedApiKey: null,
  models: [],
  createdAt: 1_700_000_000_000,
  createdBy: "test",
  ...overrides
})

let usageSeq = 0
const usage = (overrides: Partial<UsageRow>): UsageRow => {
  usageSeq += 1
  return {
    id: `use_${String(usageSeq).padStart(4, "0")}`,
    at: 1_700_000_000_000 + usageSeq,
    keyId: "key_a",
    keyPrefix: "tsk_aaaaaa",
    format: "openai-chat",
    model: "p/m",
    status: 200,
    inputTokens: 10,
    outputTokens: 20,
    latencyMs: 30,
    firstByteMs: 5,
    error: null,
    ...overrides
  }
}

const suite = (name: string, storage: Layer.Layer<Storage, StorageError>): void =>
  layer(Services.pipe(Layer.provideMerge(storage)), { excludeTestServices: true, timeout: "60 seconds" })(name, (it) => {
    it.effect("providers: insert, get, list in name order, refuse a taken name, remove", () =>
      Effect.gen(function*() {
        const repo = yield* ProviderRepo
        const masterKey = yield* MasterKey
        const sealed = yield* masterKey.seal(Redacted.make("sk-secret"), "zeta")
        const models = [
          new ProviderModel({ id: "m-1", contextWindow: 1000, maxOutputTokens: 100 }),
          new ProviderModel({ id: "org/m-2", contextWindow: null, maxOutputTokens: null })
        ]
        assert.isTrue(yield* repo.insert(provider("zeta", { sealedApiKey: sealed, models, format: "anthropic" })))
        assert.isTrue(yield* repo.insert(provider("alpha")))
        assert.isFalse(yield* repo.insert(provider("zeta")))
        const zeta = Option.getOrThrow(yield* repo.get("zeta"))
        assert.strictEqual(zeta.format, "anthropic")
        assert.strictEqual(zeta.sealedApiKey, sealed)
        assert.deepStrictEqual(zeta.models, models)
        assert.strictEqual(zeta.createdAt, 1_700_000_000_000)
        assert.strictEqual(Redacted.value(yield* masterKey.open(zeta.sealedApiKey ?? "", "zeta")), "sk-secret")
        assert.deepStrictEqual((yield* repo.list).map((p) => p.name), ["alpha", "zeta"])
        const sql = yield* SqlClient.SqlClient
        const raw = yield* sql<{ api_key: string | null }>`SELECT api_key FROM providers WHERE name = 'zeta'`
        assert.notInclude(raw[0]?.api_key ?? "", "sk-secret")
        assert.isTrue(yield* repo.remove("alpha"))
        assert.isFalse(yield* repo.remove("alpha"))
        assert.isTrue(Option.isNone(yield* repo.get("alpha")))
      }))

    it.effect("inference keys: globs stored with the key, listed, verified; revoked keys refused", () =>
      Effect.gen(function*() {
        const keys = yield* InferenceKeys
        const open = yield* keys.create({ name: "open", createdBy: "test" })
        const narrow = yield* keys.create({ name: "narrow", models: ["a/*", "b/x", "a/*"], expiresInDays: 3, createdBy: "test" })
        assert.deepStrictEqual(narrow.key.models, ["a/*", "b/x"])
        assert.isNotNull(narrow.key.expiresAt)
        const verified = yield* keys.verify(narrow.secret)
        assert.deepStrictEqual(verified.models, ["a/*", "b/x"])
        assert.isNull((yield* keys.verify(open.secret)).models)
        const listed = yield* keys.list()
        assert.deepStrictEqual(
          listed.filter((k) => k.id === narrow.key.id || k.id === open.key.id).map((k) => [k.name, k.models]),
          [["narrow", ["a/*", "b/x"]], ["open", null]]
        )
        // Access-token verification never accepts an inference key, and vice versa.
        const tokens = yield* TokenStore
        const asAccess = yield* Effect.flip(tokens.verify("access", open.secret))
        assert.strictEqual(asAccess.reason, "wrong_kind")
        const revoked = yield* keys.revoke(narrow.key.prefix)
        assert.isFalse(revoked.alreadyRevoked)
        assert.deepStrictEqual(revoked.key.models, ["a/*", "b/x"])
        assert.isTrue((yield* keys.revoke(narrow.key.id)).alreadyRevoked)
        assert.strictEqual((yield* Effect.flip(keys.verify(narrow.secret))).reason, "revoked")
      }))

    it.effect("usage: rows newest first, filtered by key and time, with totals per key", () =>
      Effect.gen(function*() {
        const repo = yield* UsageRepo
        const rows = [
          usage({ keyId: "key_a", inputTokens: 1, outputTokens: 2 }),
          usage({ keyId: "key_a", status: 429, inputTokens: null, outputTokens: null, firstByteMs: null, error: "slow down" }),
          usage({ keyId: "key_b", keyPrefix: "tsk_bbbbbb", inputTokens: 5, outputTokens: 6, format: "anthropic" }),
          usage({ keyId: "key_a", inputTokens: 3, outputTokens: 4 })
        ]
        yield* repo.append(rows)
        yield* repo.append([])
        const all = yield* repo.list({ limit: 10 })
        assert.deepStrictEqual(all.map((r) => r.id), [...rows].reverse().map((r) => r.id))
        assert.deepStrictEqual(all[2], rows[1])
        assert.deepStrictEqual((yield* repo.list({ limit: 2, keyId: "key_a" })).map((r) => r.id), [rows[3]?.id, rows[1]?.id])
        assert.deepStrictEqual((yield* repo.list({ limit: 10, since: rows[2]!.at })).length, 2)
        assert.deepStrictEqual(yield* repo.totals({}), [
          { keyId: "key_a", keyPrefix: "tsk_aaaaaa", requests: 3, errors: 1, inputTokens: 4, outputTokens: 6 },
          { keyId: "key_b", keyPrefix: "tsk_bbbbbb", requests: 1, errors: 0, inputTokens: 5, outputTokens: 6 }
        ])
        assert.deepStrictEqual(yield* repo.totals({ keyId: "key_none" }), [])
      }))
  })

suite("gateway storage on SQLite", sqliteTestLayer())

const postgres = await postgresProbe()
if (postgres.available) {
  suite("gateway storage on PostgreSQL", postgresTestLayer())
} else if (process.env["CI"]) {
  describe("gateway storage on PostgreSQL", () => {
    it("has a PostgreSQL server to run against", () => {
      throw new Error(`PostgreSQL is unreachable, so its suite cannot run: ${postgres.reason}`)
    })
  })
} else {
  console.warn(`SKIPPING the Postgres gateway storage suite: ${postgres.reason}`)
}

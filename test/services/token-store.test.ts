import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import fc from "fast-check"
import { generateToken, hashToken } from "../../src/services/tokens/secret.js"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { makeMemoryRepositories } from "../support/doubles.js"

const withStore = <A, E>(body: (repos: ReturnType<typeof makeMemoryRepositories>) => Effect.Effect<A, E, TokenStore>) =>
  Effect.suspend(() => {
    const repos = makeMemoryRepositories()
    return body(repos).pipe(Effect.provide(TokenStore.Default.pipe(Layer.provide(repos.layer))))
  })

const failureReason = <A>(exit: Exit.Exit<A, { readonly reason: string }>) =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error.reason : "none"

describe("TokenStore", () => {
  it.effect("stores only the hash and a display prefix; the plaintext comes back once", () =>
    withStore((repos) =>
      Effect.gen(function*() {
        const store = yield* TokenStore
        const issued = yield* store.issue({ kind: "access", name: "n", scope: "write", createdBy: "t" })
        const secret = Redacted.value(issued.token)
        const stored = repos.tokens.get(issued.row.id)
        assert.strictEqual(stored?.tokenHash, hashToken(secret))
        assert.strictEqual(stored?.prefix, secret.slice(0, 10))
        assert.notInclude(JSON.stringify(stored), secret)
        assert.strictEqual(String(issued.token), "<redacted>")
      })))

  it.effect("expiry is refused as expired, at exactly the expiry time", () =>
    withStore(() =>
      Effect.gen(function*() {
        const store = yield* TokenStore
        const issued = yield* store.issue({ kind: "access", name: "n", scope: "read", expiresInDays: 1, createdBy: "t" })
        const secret = Redacted.value(issued.token)
        assert.isTrue(Exit.isSuccess(yield* Effect.exit(store.verify("access", secret))))
        yield* TestClock.adjust("23 hours")
        assert.isTrue(Exit.isSuccess(yield* Effect.exit(store.verify("access", secret))))
        yield* TestClock.adjust("1 hour")
        assert.strictEqual(failureReason(yield* Effect.exit(store.verify("access", secret))), "expired")
      })))

  it.effect("revoked beats expired and unknown stays unknown", () =>
    withStore(() =>
      Effect.gen(function*() {
        const store = yield* TokenStore
        const issued = yield* store.issue({ kind: "access", name: "n", scope: "read", expiresInDays: 1, createdBy: "t" })
        yield* store.revoke("access", issued.row.id)
        yield* TestClock.adjust("2 days")
        assert.strictEqual(failureReason(yield* Effect.exit(store.verify("access", Redacted.value(issued.token)))), "revoked")
        assert.strictEqual(failureReason(yield* Effect.exit(store.verify("access", generateToken("access")))), "unknown")
      })))

  it.effect("an inference key is never accepted as an access token, nor the reverse", () =>
    withStore(() =>
      Effect.gen(function*() {
        const store = yield* TokenStore
        const key = yield* store.issue({ kind: "inference", name: "k", scope: "read", createdBy: "t" })
        const token = yield* store.issue({ kind: "access", name: "a", scope: "read", createdBy: "t" })
        assert.strictEqual(failureReason(yield* Effect.exit(store.verify("access", Redacted.value(key.token)))), "wrong_kind")
        assert.strictEqual(failureReason(yield* Effect.exit(store.verify("inference", Redacted.value(token.token)))), "wrong_kind")
      })))

  it.effect("last-used stamps are coalesced: many requests, one batched write per flush interval", () =>
    withStore((repos) =>
      Effect.gen(function*() {
        const store = yield* TokenStore
        const a = yield* store.issue({ kind: "access", name: "a", scope: "read", createdBy: "t" })
        const b = yield* store.issue({ kind: "access", name: "b", scope: "read", createdBy: "t" })
        for (let i = 0; i < 50; i++) {
          yield* store.verify("access", Redacted.value(a.token))
          yield* store.verify("access", Redacted.value(b.token))
        }
        assert.strictEqual(repos.touches.length, 0)
        assert.isNull(repos.tokens.get(a.row.id)?.lastUsedAt ?? null)
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(repos.touches.length, 1)
        assert.strictEqual(repos.touches[0]?.length, 2)
        assert.isNotNull(repos.tokens.get(a.row.id)?.lastUsedAt ?? null)
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(repos.touches.length, 1, "nothing new to write")
      })))

  it.effect("pending stamps are written when the store shuts down", () =>
    Effect.gen(function*() {
      const repos = makeMemoryRepositories()
      const id = yield* Effect.scoped(
        Effect.gen(function*() {
          const store = yield* TokenStore
          const issued = yield* store.issue({ kind: "access", name: "a", scope: "read", createdBy: "t" })
          yield* store.verify("access", Redacted.value(issued.token))
          return issued.row.id
        }).pipe(Effect.provide(TokenStore.Default.pipe(Layer.provide(repos.layer))))
      )
      assert.isNotNull(repos.tokens.get(id)?.lastUsedAt ?? null)
    }))

  it.effect.prop("revoking by any prefix of the display prefix that is unique revokes exactly that token", [
    fc.integer({ min: 2, max: 6 })
  ], ([count]) =>
    withStore((repos) =>
      Effect.gen(function*() {
        const store = yield* TokenStore
        const issued = []
        for (let i = 0; i < count; i++) issued.push(yield* store.issue({ kind: "access", name: `t${i}`, scope: "read", createdBy: "t" }))
        const target = issued[0]!
        const result = yield* Effect.exit(store.revoke("access", target.row.prefix))
        const sharing = issued.filter((t) => t.row.prefix === target.row.prefix).length
        if (sharing === 1) {
          assert.isTrue(Exit.isSuccess(result))
          assert.deepStrictEqual(
            [...repos.tokens.values()].filter((t) => t.revokedAt !== null).map((t) => t.id),
            [target.row.id]
          )
        }
        const ambiguous = yield* Effect.exit(store.revoke("access", "tat_"))
        assert.isTrue(Exit.isFailure(ambiguous))
        assert.isAtMost([...repos.tokens.values()].filter((t) => t.revokedAt !== null).length, 1)
      })), { fastCheck: { numRuns: 20 } })
})

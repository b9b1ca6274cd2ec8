import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { AuditLog } from "../../src/services/audit/AuditLog.js"
import { LOCKOUT_POLICY, PasswordExchange } from "../../src/services/connect/PasswordExchange.js"
import { ManagementPassword } from "../../src/services/password/ManagementPassword.js"
import { verifyPassword } from "../../src/services/password/scrypt.js"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { makeMemoryRepositories } from "../support/doubles.js"

const PASSWORD = "the right password"

const setup = () => {
  const repos = makeMemoryRepositories()
  const core = Layer.mergeAll(TokenStore.Default, AuditLog.Default, ManagementPassword.Default).pipe(
    Layer.provideMerge(repos.layer)
  )
  return { repos, layer: PasswordExchange.Default.pipe(Layer.provideMerge(core)) }
}

const attempt = (password: string, peer = "203.0.113.7") =>
  Effect.flatMap(PasswordExchange, (x) =>
    Effect.exit(x.connect({ password: Redacted.make(password), peer, scope: "admin" })))

const tagOf = <A>(exit: Exit.Exit<A, { readonly _tag: string }>) =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error._tag : "Success"

describe("ManagementPassword", () => {
  it.effect("first start generates a strong password and stores only its scrypt hash", () => {
    const { repos, layer } = setup()
    return Effect.gen(function*() {
      const password = yield* ManagementPassword
      const first = yield* password.initialize(Option.none())
      assert.strictEqual(first._tag, "Generated")
      if (first._tag !== "Generated") return
      const plain = Redacted.value(first.password)
      assert.match(plain, /^[0-9A-Za-z]{24}$/)
      assert.isTrue(yield* password.verify(first.password))
      assert.isFalse(yield* password.verify(Redacted.make(plain + "x")))
      assert.strictEqual((yield* password.initialize(Option.none()))._tag, "Existing")
      void repos
    }).pipe(Effect.provide(layer))
  })

  it.effect("TETHER_PASSWORD sets it; rotation replaces it", () => {
    const { layer } = setup()
    return Effect.gen(function*() {
      const password = yield* ManagementPassword
      yield* password.initialize(Option.some(Redacted.make("from the environment")))
      assert.isTrue(yield* password.verify(Redacted.make("from the environment")))
      const rotated = yield* password.rotate(Option.none())
      assert.isFalse(yield* password.verify(Redacted.make("from the environment")))
      assert.isTrue(yield* password.verify(rotated))
    }).pipe(Effect.provide(layer))
  })

  it.effect("the stored form is a salted scrypt hash, different for the same password", () =>
    Effect.gen(function*() {
      const { hashPassword } = yield* Effect.promise(() => import("../../src/services/password/scrypt.js"))
      const a = yield* hashPassword("same")
      const b = yield* hashPassword("same")
      assert.match(a, /^scrypt\$15\$8\$1\$/)
      assert.notStrictEqual(a, b)
      assert.isTrue(yield* verifyPassword("same", a))
      assert.isFalse(yield* verifyPassword("same", "garbage"))
    }))
})

describe("PasswordExchange lockout", () => {
  it.effect("5 failures in 15 minutes lock the address for 15 minutes; other addresses are unaffected", () => {
    const { repos, layer } = setup()
    return Effect.gen(function*() {
      yield* (yield* ManagementPassword).initialize(Option.some(Redacted.make(PASSWORD)))
      const tags: Array<string> = []
      for (let i = 0; i < LOCKOUT_POLICY.maxFailures; i++) tags.push(tagOf(yield* attempt("wrong")))
      assert.deepStrictEqual(tags, ["InvalidPassword", "InvalidPassword", "InvalidPassword", "InvalidPassword", "TooManyAttempts"])
      assert.strictEqual(tagOf(yield* attempt(PASSWORD)), "TooManyAttempts")
      assert.strictEqual(tagOf(yield* attempt(PASSWORD, "198.51.100.1")), "Success")
      yield* TestClock.adjust("14 minutes")
      assert.strictEqual(tagOf(yield* attempt(PASSWORD)), "TooManyAttempts")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(tagOf(yield* attempt(PASSWORD)), "Success")
      const actions = repos.audit.map((r) => r.action)
      assert.include(actions, "connect.failure")
      assert.include(actions, "connect.lockout")
      assert.include(actions, "connect.success")
    }).pipe(Effect.provide(layer))
  })

  it.effect("failures spread over more than the window do not lock", () => {
    const { layer } = setup()
    return Effect.gen(function*() {
      yield* (yield* ManagementPassword).initialize(Option.some(Redacted.make(PASSWORD)))
      for (let i = 0; i < 8; i++) {
        assert.strictEqual(tagOf(yield* attempt("wrong")), "InvalidPassword")
        yield* TestClock.adjust("4 minutes")
        if (i % 4 === 3) yield* TestClock.adjust("15 minutes")
      }
    }).pipe(Effect.provide(layer))
  })

  it.effect("a success clears earlier failures", () => {
    const { layer } = setup()
    return Effect.gen(function*() {
      yield* (yield* ManagementPassword).initialize(Option.some(Redacted.make(PASSWORD)))
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 4; i++) assert.strictEqual(tagOf(yield* attempt("wrong")), "InvalidPassword")
        assert.strictEqual(tagOf(yield* attempt(PASSWORD)), "Success")
      }
    }).pipe(Effect.provide(layer))
  })
})

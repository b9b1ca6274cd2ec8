/**
 * TerminalHomes on SQLite and on PostgreSQL: two instances sharing one
 * database (each with its own TETHER_INSTANCE_URL) claim terminals, find
 * each other's, ignore a dead one, and forget one that stopped; without
 * TETHER_INSTANCE_URL nothing is written. Also the URL's validation.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, layer } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { Storage, StorageError } from "../../src/layers/storage.js"
import { HostRepo } from "../../src/services/hosts/HostRepo.js"
import { SessionRepo } from "../../src/services/sessions/SessionRepo.js"
import { instanceUrlConfig, parseInstanceUrl, TerminalHomes } from "../../src/services/terminal/TerminalHomes.js"
import { postgresProbe, postgresTestLayer, sqliteTestLayer } from "../support/databases.js"
import { seedSession } from "../support/sessions.js"

/** A TerminalHomes as an instance with this TETHER_INSTANCE_URL (none: unset) would have it, in `scope`. */
const instance = (url: string | null, scope: Scope.Scope) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const config = ConfigProvider.fromMap(new Map(url === null ? [] : [["TETHER_INSTANCE_URL", url]]))
    const context = yield* Layer.buildWithScope(
      TerminalHomes.Default.pipe(Layer.provide(Layer.succeed(SqlClient.SqlClient, sql)), Layer.provide(Layer.setConfigProvider(config))),
      scope
    )
    return Context.get(context, TerminalHomes)
  })

const suite = (name: string, storage: Layer.Layer<Storage, StorageError>): void =>
  layer(Layer.mergeAll(HostRepo.Default, SessionRepo.Default).pipe(Layer.provideMerge(storage)), { excludeTestServices: true, timeout: "60 seconds" })(
    name,
    (it) => {
      it.scoped("two instances: each finds the other's terminals, never its own; a claim moves the terminal", () =>
        Effect.gen(function*() {
          const scope = yield* Effect.scope
          const a = yield* instance("http://10.0.0.5:7337", scope)
          const b = yield* instance("http://10.0.0.6:7337", scope)
          assert.deepStrictEqual(a.self, Option.some("http://10.0.0.5:7337"))
          const session = yield* seedSession()
          assert.isTrue(Option.isNone(yield* b.homeOf(session)), "unclaimed: served where the viewer is")
          yield* a.claim(session)
          assert.deepStrictEqual(yield* b.homeOf(session), Option.some("http://10.0.0.5:7337"))
          assert.isTrue(Option.isNone(yield* a.homeOf(session)), "held here")
          yield* b.claim(session)
          assert.deepStrictEqual(yield* a.homeOf(session), Option.some("http://10.0.0.6:7337"))
          assert.isTrue(Option.isNone(yield* b.homeOf(session)))
        }))

      it.scoped("a home whose heartbeat is stale, or that stopped, is not forwarded to; a deleted session's claim goes with it", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const scope = yield* Effect.scope
          const aScope = yield* Scope.make()
          const a = yield* instance("http://10.0.1.5:7337", aScope)
          const b = yield* instance("http://10.0.1.6:7337", scope)
          const session = yield* seedSession()
          yield* a.claim(session)
          assert.isTrue(Option.isSome(yield* b.homeOf(session)))
          yield* sql`UPDATE server_instances SET seen_at = ${Date.now() - 60_000} WHERE url = ${"http://10.0.1.5:7337"}`
          assert.isTrue(Option.isNone(yield* b.homeOf(session)), "silent for a minute: taken for dead")
          yield* sql`UPDATE server_instances SET seen_at = ${Date.now()} WHERE url = ${"http://10.0.1.5:7337"}`
          assert.isTrue(Option.isSome(yield* b.homeOf(session)))
          yield* Scope.close(aScope, Exit.void)
          assert.isTrue(Option.isNone(yield* b.homeOf(session)), "a stopped instance removes its heartbeat")
          yield* b.claim(session)
          assert.isTrue(yield* (yield* SessionRepo).delete(session))
          const left = yield* sql`SELECT session_id FROM terminal_homes WHERE session_id = ${session}`
          assert.strictEqual(left.length, 0)
        }))

      it.scoped("without TETHER_INSTANCE_URL nothing is claimed and nothing is forwarded", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const scope = yield* Effect.scope
          const other = yield* instance("http://10.0.2.5:7337", scope)
          const alone = yield* instance(null, scope)
          assert.isTrue(Option.isNone(alone.self))
          const session = yield* seedSession()
          yield* alone.claim(session)
          assert.strictEqual((yield* sql`SELECT session_id FROM terminal_homes WHERE session_id = ${session}`).length, 0)
          yield* other.claim(session)
          assert.isTrue(Option.isNone(yield* alone.homeOf(session)))
        }))
    }
  )

suite("terminal homes on SQLite", sqliteTestLayer())
const postgres = await postgresProbe()
if (postgres.available) suite("terminal homes on PostgreSQL", postgresTestLayer())
else if (process.env["CI"]) {
  describe("terminal homes on PostgreSQL", () => {
    it("needs a reachable PostgreSQL server in CI", () => {
      throw new Error(`PostgreSQL is unreachable: ${postgres.reason}`)
    })
  })
}

describe("TETHER_INSTANCE_URL", () => {
  it("is an http(s) origin, normalized; anything else is refused with the reason", () => {
    assert.deepStrictEqual(parseInstanceUrl("http://10.0.0.5:7337"), Either.right("http://10.0.0.5:7337"))
    assert.deepStrictEqual(parseInstanceUrl(" https://Tether-1.internal/ "), Either.right("https://tether-1.internal"))
    assert.deepStrictEqual(parseInstanceUrl("10.0.0.5:7337"), Either.left("not a URL"))
    assert.deepStrictEqual(parseInstanceUrl("localhost:7337"), Either.left("the scheme must be http or https"))
    assert.deepStrictEqual(parseInstanceUrl("ftp://x"), Either.left("the scheme must be http or https"))
    assert.deepStrictEqual(parseInstanceUrl("http://u:p@x:1"), Either.left("no credentials in the URL"))
    assert.deepStrictEqual(parseInstanceUrl("http://x:1/tether"), Either.left("no path, query or fragment"))
    assert.deepStrictEqual(parseInstanceUrl("http://x:1/?a=b"), Either.left("no path, query or fragment"))
    assert.deepStrictEqual(parseInstanceUrl("not a url"), Either.left("not a URL"))
  })

  it.effect("an invalid value is a configuration error naming the variable and the reason", () =>
    Effect.gen(function*() {
      const read = (value: string) =>
        Effect.exit(Effect.withConfigProvider(
          Effect.gen(function*() {
            return yield* instanceUrlConfig
          }),
          ConfigProvider.fromMap(new Map([["TETHER_INSTANCE_URL", value]]))
        ))
      const bad = yield* read("localhost:7337")
      assert.isTrue(Exit.isFailure(bad))
      const text = String(Exit.isFailure(bad) ? bad.cause : "")
      assert.include(text, "TETHER_INSTANCE_URL")
      assert.include(text, "the scheme must be http or https")
      assert.deepStrictEqual(yield* read("http://10.0.0.5:7337/"), Exit.succeed(Option.some("http://10.0.0.5:7337")))
    }))
})

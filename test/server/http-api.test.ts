/**
 * The HTTP API over a real socket and a real SQLite file: authentication
 * answers (which 401), scope answers (403 shape), the password exchange with
 * its lockout, token management and the audit log.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { DISPLAY_PREFIX_LENGTH } from "../../src/domain/token-format.js"
import { TokenRepo } from "../../src/services/tokens/TokenRepo.js"
import { generateToken, hashToken } from "../../src/services/tokens/secret.js"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { apiServerLayer, TEST_PASSWORD } from "../support/api-server.js"
import { sqliteTestLayer } from "../support/databases.js"

type Json = Record<string, unknown>

const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response: HttpClientResponse.HttpClientResponse = yield* client.execute(request)
    const text = yield* response.text
    return { status: response.status, headers: response.headers, body: (text === "" ? {} : JSON.parse(text)) as Json }
  })

const bearer = (token: string) => HttpClientRequest.bearerToken(token)

const issue = (scope: "read" | "write" | "admin", name = `${scope}-token`) =>
  Effect.flatMap(TokenStore, (tokens) =>
    tokens.issue({ kind: "access", name, scope, createdBy: "test" })).pipe(Effect.map((t) => Redacted.value(t.token)))

/** The password exchange from 127.0.0.1 (the lockout test locks that address; no later test connects). */
const connect = (password: string, body: Json = {}) =>
  send(HttpClientRequest.post("/api/cli/connect").pipe(HttpClientRequest.bodyUnsafeJson({ password, ...body })))

layer(apiServerLayer(sqliteTestLayer()), { excludeTestServices: true })("HTTP API", (it) => {
  it.effect("health and version need no credential", () =>
    Effect.gen(function*() {
      const health = yield* send(HttpClientRequest.get("/healthz"))
      assert.strictEqual(health.status, 200)
      assert.deepStrictEqual(health.body, { status: "ok" })
      const version = yield* send(HttpClientRequest.get("/api/version"))
      assert.strictEqual(version.status, 200)
      assert.strictEqual(version.body["name"], "tether")
    }))

  it.effect("the OpenAPI document is served and lists every route", () =>
    Effect.gen(function*() {
      const spec = yield* send(HttpClientRequest.get("/api/openapi.json"))
      assert.strictEqual(spec.status, 200)
      const paths = Object.keys(spec.body["paths"] as Json)
      for (const path of ["/healthz", "/api/version", "/api/cli/connect", "/api/cli/tokens", "/api/audit"]) {
        assert.include(paths, path)
      }
    }))

  it.effect("401 says which: missing, malformed, unknown, expired, revoked, wrong kind", () =>
    Effect.gen(function*() {
      const whoami = (r: HttpClientRequest.HttpClientRequest) => send(r)
      const base = HttpClientRequest.get("/api/cli/whoami")

      const missing = yield* whoami(base)
      assert.strictEqual(missing.status, 401)
      assert.strictEqual(missing.body["reason"], "missing")

      const malformed = yield* whoami(base.pipe(bearer("tat_nope")))
      assert.strictEqual(malformed.body["reason"], "malformed")

      const unknown = yield* whoami(base.pipe(bearer(generateToken("access"))))
      assert.strictEqual(unknown.status, 401)
      assert.strictEqual(unknown.body["reason"], "unknown")

      const wrongKind = yield* whoami(base.pipe(bearer(generateToken("inference"))))
      assert.strictEqual(wrongKind.body["reason"], "wrong_kind")

      // An expired token, written as the store would have written it a while ago.
      const expired = generateToken("access")
      const repo = yield* TokenRepo
      const now = Date.now()
      yield* repo.insert({
        id: "tok_expiredtoken00001",
        kind: "access",
        tokenHash: hashToken(expired),
        prefix: expired.slice(0, DISPLAY_PREFIX_LENGTH),
        name: "old",
        scope: "admin",
        createdAt: now - 10_000,
        lastUsedAt: null,
        expiresAt: now - 1_000,
        revokedAt: null,
        createdBy: "test"
      })
      const expiredAnswer = yield* whoami(base.pipe(bearer(expired)))
      assert.strictEqual(expiredAnswer.status, 401)
      assert.strictEqual(expiredAnswer.body["reason"], "expired")
      assert.match(String(expiredAnswer.body["error"]), /expired at/)

      const revokedToken = yield* issue("read", "to-revoke")
      yield* Effect.flatMap(TokenStore, (t) => t.revoke("access", revokedToken.slice(0, 10)))
      const revoked = yield* whoami(base.pipe(bearer(revokedToken)))
      assert.strictEqual(revoked.status, 401)
      assert.strictEqual(revoked.body["reason"], "revoked")
      assert.match(String(revoked.body["error"]), /revoked at/)
      assert.notStrictEqual(revoked.body["error"], expiredAnswer.body["error"])
    }))

  it.effect("X-API-Key works like Bearer", () =>
    Effect.gen(function*() {
      const token = yield* issue("read")
      const answer = yield* send(HttpClientRequest.get("/api/cli/whoami").pipe(HttpClientRequest.setHeader("x-api-key", token)))
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.body["scope"], "read")
    }))

  it.effect("403 returns {error, required, granted}; scopes nest read ⊂ write ⊂ admin", () =>
    Effect.gen(function*() {
      const read = yield* issue("read")
      const write = yield* issue("write")
      const admin = yield* issue("admin")
      for (const token of [read, write]) {
        const denied = yield* send(HttpClientRequest.get("/api/cli/tokens").pipe(bearer(token)))
        assert.strictEqual(denied.status, 403)
        assert.strictEqual(denied.body["required"], "admin")
        assert.include(["read", "write"], denied.body["granted"])
        assert.isString(denied.body["error"])
      }
      const allowed = yield* send(HttpClientRequest.get("/api/cli/tokens").pipe(bearer(admin)))
      assert.strictEqual(allowed.status, 200)
      // read-scope routes accept every scope
      for (const token of [read, write, admin]) {
        assert.strictEqual((yield* send(HttpClientRequest.get("/api/server/status").pipe(bearer(token)))).status, 200)
      }
    }))

  it.effect("tokens: created once, listed masked, revoked by prefix; an ambiguous prefix is 409 and revokes nothing", () =>
    Effect.gen(function*() {
      const admin = yield* issue("admin", "admin-for-tokens")
      const created = yield* send(
        HttpClientRequest.post("/api/cli/tokens").pipe(bearer(admin), HttpClientRequest.bodyUnsafeJson({ name: "ci", scope: "write" }))
      )
      assert.strictEqual(created.status, 201)
      const secret = String(created.body["token"])
      assert.match(secret, /^tat_[0-9A-Za-z]{38}$/)

      const listed = yield* send(HttpClientRequest.get("/api/cli/tokens").pipe(bearer(admin)))
      const text = JSON.stringify(listed.body)
      assert.notInclude(text, secret)
      assert.include(text, secret.slice(0, 10))

      const ambiguous = yield* send(HttpClientRequest.del("/api/cli/tokens/tat_").pipe(bearer(admin)))
      assert.strictEqual(ambiguous.status, 409)
      assert.isAbove((ambiguous.body["matches"] as Array<unknown>).length, 1)
      const stillListed = yield* send(HttpClientRequest.get("/api/cli/tokens").pipe(bearer(admin)))
      const tokens = stillListed.body["tokens"] as Array<Json>
      assert.isTrue(tokens.filter((t) => t["name"] === "ci").every((t) => t["status"] === "active"))

      const tooLong = yield* send(HttpClientRequest.del(`/api/cli/tokens/${secret.slice(0, 12)}`).pipe(bearer(admin)))
      assert.strictEqual(tooLong.status, 404)
      assert.match(String(tooLong.body["error"]), /prefix as listed/)
      const revoked = yield* send(HttpClientRequest.del(`/api/cli/tokens/${secret.slice(0, 10)}`).pipe(bearer(admin)))
      assert.strictEqual(revoked.status, 200)
      assert.strictEqual((revoked.body["token"] as Json)["status"], "revoked")
      assert.strictEqual(revoked.body["alreadyRevoked"], false)
      const again = yield* send(HttpClientRequest.del(`/api/cli/tokens/${secret.slice(0, 10)}`).pipe(bearer(admin)))
      assert.strictEqual(again.status, 200)
      assert.strictEqual(again.body["alreadyRevoked"], true)
      assert.strictEqual((again.body["token"] as Json)["revokedAt"], (revoked.body["token"] as Json)["revokedAt"])
      const revocations = yield* send(HttpClientRequest.get("/api/audit?action=token.revoked").pipe(bearer(admin)))
      assert.strictEqual(
        (revocations.body["entries"] as Array<Json>).filter((e) => String(e["detail"]).includes(secret.slice(0, 10))).length,
        1,
        "revoking twice is audited once"
      )
      const refused = yield* send(HttpClientRequest.get("/api/cli/whoami").pipe(bearer(secret)))
      assert.strictEqual(refused.body["reason"], "revoked")

      const missing = yield* send(HttpClientRequest.del("/api/cli/tokens/tok_doesnotexist").pipe(bearer(admin)))
      assert.strictEqual(missing.status, 404)

      // The whole secret identifies its token too (a leaked token can be revoked as found).
      const leaked = yield* issue("read", "leaked")
      const byWhole = yield* send(HttpClientRequest.del("/api/cli/tokens/" + leaked).pipe(bearer(admin)))
      assert.strictEqual(byWhole.status, 200)
      assert.strictEqual((byWhole.body["token"] as Json)["name"], "leaked")
    }))

  it.effect("bad input is a 400 with a reason, never a 500", () =>
    Effect.gen(function*() {
      const admin = yield* issue("admin")
      const bodies: Array<unknown> = [{}, { name: "" }, { name: "x", scope: "root" }, { name: "x", expiresInDays: 0 }, "nope"]
      for (const body of bodies) {
        const answer = yield* send(HttpClientRequest.post("/api/cli/tokens").pipe(bearer(admin), HttpClientRequest.bodyUnsafeJson(body)))
        assert.strictEqual(answer.status, 400, JSON.stringify(body))
      }
      const garbage = yield* send(
        HttpClientRequest.post("/api/cli/tokens").pipe(bearer(admin), HttpClientRequest.bodyText("{not json", "application/json"))
      )
      assert.strictEqual(garbage.status, 400)
      const badCursor = yield* send(HttpClientRequest.get("/api/audit?cursor=zzz").pipe(bearer(admin)))
      assert.strictEqual(badCursor.status, 400)
    }))

  it.effect("the password exchange issues a token of the requested scope and audits it", () =>
    Effect.gen(function*() {
      const answer = yield* connect(TEST_PASSWORD, { name: "laptop", scope: "write", expiresInDays: 7 })
      assert.strictEqual(answer.status, 201)
      const info = answer.body["info"] as Json
      assert.strictEqual(info["scope"], "write")
      assert.isNotNull(info["expiresAt"])
      const token = String(answer.body["token"])
      const me = yield* send(HttpClientRequest.get("/api/cli/whoami").pipe(bearer(token)))
      assert.strictEqual(me.body["name"], "laptop")

      const admin = yield* issue("admin")
      const audit = yield* send(HttpClientRequest.get("/api/audit?action=connect.success").pipe(bearer(admin)))
      const entries = audit.body["entries"] as Array<Json>
      assert.isAbove(entries.length, 0)
      assert.strictEqual(entries[0]?.["peer"], "127.0.0.1")
      assert.notInclude(JSON.stringify(audit.body), token)
    }))

  it.effect("five wrong passwords lock the address for 15 minutes (429 + Retry-After), even for the right one", () =>
    Effect.gen(function*() {
      const statuses: Array<number> = []
      for (let i = 0; i < 5; i++) statuses.push((yield* connect("wrong password")).status)
      assert.deepStrictEqual(statuses, [401, 401, 401, 401, 429])
      const locked = yield* connect(TEST_PASSWORD)
      assert.strictEqual(locked.status, 429)
      const retryAfter = Number(locked.headers["retry-after"])
      assert.isTrue(retryAfter > 14 * 60 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`)
      assert.strictEqual(locked.body["_tag"], "TooManyAttempts")

      const admin = yield* issue("admin")
      const lockouts = yield* send(HttpClientRequest.get("/api/audit?action=connect.lockout").pipe(bearer(admin)))
      assert.isAtLeast((lockouts.body["entries"] as Array<unknown>).length, 2)
      const failures = yield* send(HttpClientRequest.get("/api/audit?action=connect.failure&limit=2").pipe(bearer(admin)))
      assert.strictEqual((failures.body["entries"] as Array<unknown>).length, 2)
      assert.isString(failures.body["nextCursor"])
      const next = yield* send(
        HttpClientRequest.get(`/api/audit?action=connect.failure&limit=2&cursor=${failures.body["nextCursor"]}`).pipe(bearer(admin))
      )
      const firstIds = (failures.body["entries"] as Array<Json>).map((e) => e["id"])
      for (const entry of next.body["entries"] as Array<Json>) assert.notInclude(firstIds, entry["id"])
    }))

  it.effect("loopback-only routes refuse proxied requests whatever the scope", () =>
    Effect.gen(function*() {
      const admin = yield* issue("admin")
      const proxied = yield* send(
        HttpClientRequest.post("/api/server/shutdown").pipe(bearer(admin), HttpClientRequest.setHeader("x-forwarded-for", "127.0.0.1"))
      )
      assert.strictEqual(proxied.status, 403)
      assert.strictEqual(proxied.body["_tag"], "LoopbackOnly")
      const read = yield* issue("read")
      const weak = yield* send(HttpClientRequest.post("/api/server/shutdown").pipe(bearer(read)))
      assert.strictEqual(weak.status, 403)
      assert.strictEqual(weak.body["required"], "admin")
    }))

  it.effect("last-used is stamped in memory and written in one batch", () =>
    Effect.gen(function*() {
      const tokens = yield* TokenStore
      const repo = yield* TokenRepo
      const issued = yield* tokens.issue({ kind: "access", name: "stamp", scope: "read", createdBy: "test" })
      for (let i = 0; i < 3; i++) {
        assert.strictEqual((yield* send(HttpClientRequest.get("/api/cli/whoami").pipe(bearer(Redacted.value(issued.token))))).status, 200)
      }
      const before = yield* repo.findById(issued.row.id)
      assert.isTrue(before._tag === "Some" && before.value.lastUsedAt === null)
      const listed = yield* tokens.list("access")
      assert.isNotNull(listed.find((t) => t.id === issued.row.id)?.lastUsedAt)
      yield* tokens.flushLastUsed
      const after = yield* repo.findById(issued.row.id)
      assert.isTrue(after._tag === "Some" && after.value.lastUsedAt !== null)
    }))
})


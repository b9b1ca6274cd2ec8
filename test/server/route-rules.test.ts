/**
 * Every route of the HTTP API declares who may call it. This walks the API
 * and fails on any route without a rule, and pins the admin and public lists
 * so a change to them is a deliberate, reviewed one.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import fc from "fast-check"
import { TetherApi } from "../../src/domain/api/index.js"
import { requiredScope } from "../../src/domain/route-rule.js"
import { allScopes, satisfies, type Scope } from "../../src/domain/scope.js"
import { isLoopback } from "../../src/services/scope-guard/peer.js"
import { checkPeer, checkScope, routesOf } from "../../src/services/scope-guard/ScopeGuard.js"
import { WEB_ROUTES } from "../../src/server/web/static.js"
import { WEBSOCKET_ROUTES } from "../../src/domain/websocket-routes.js"

const routes = routesOf(TetherApi)

describe("route rules", () => {
  it("every route of the HTTP API declares a rule", () => {
    assert.isAbove(routes.length, 5)
    const undeclared = routes.filter((r) => Option.isNone(r.rule)).map((r) => `${r.method} ${r.path}`)
    assert.deepStrictEqual(undeclared, [])
  })

  it("the public routes are exactly health, version and the password exchange", () => {
    const publicRoutes = routes.filter((r) => Option.isSome(r.rule) && r.rule.value._tag === "Public")
    assert.deepStrictEqual(publicRoutes.map((r) => `${r.method} ${r.path}`).sort(), [
      "GET /api/version",
      "GET /healthz",
      "POST /api/cli/connect",
      "POST /v1/web/session"
    ])
  })

  it("the web UI's static routes (outside the HttpApi) are declared: public, GET only", () => {
    assert.isAbove(WEB_ROUTES.length, 3)
    for (const route of WEB_ROUTES) {
      assert.strictEqual(route.method, "GET", route.path)
      assert.strictEqual(route.rule._tag, "Public", route.path)
      assert.isFalse(route.path.startsWith("/v1/") || route.path.startsWith("/api/"), `${route.path} shadows the API`)
    }
    assert.deepStrictEqual(WEB_ROUTES.filter((r) => r.path === "/" || r.path === "/assets/*").length, 2)
  })

  it("the WebSocket endpoints are declared: runners need write scope, terminal viewers read", () => {
    const rules = Object.fromEntries(WEBSOCKET_ROUTES.map((r) => [r.path, `${r.rule.scope}${r.rule.loopbackOnly ? "+loopback" : ""}`]))
    assert.deepStrictEqual(rules, {
      "/v1/runners/tunnel": "write",
      "/v1/runners/terminals/:sessionId": "write",
      "/v1/sessions/:id/terminal": "read"
    })
    const httpPaths = new Set(routes.map((r) => r.path))
    for (const route of WEBSOCKET_ROUTES) assert.isFalse(httpPaths.has(route.path), `${route.path} clashes with an HttpApi route`)
  })

  it("token management and the audit log need admin; loopback-only routes need admin too", () => {
    const effective = (method: string, path: string): string => {
      const route = routes.find((r) => r.method === method && r.path === path)
      if (route === undefined || Option.isNone(route.rule) || route.rule.value._tag !== "Scoped") return "none"
      return requiredScope(route.rule.value, method) + (route.rule.value.loopbackOnly ? "+loopback" : "")
    }
    assert.strictEqual(effective("GET", "/api/cli/tokens"), "admin")
    assert.strictEqual(effective("POST", "/api/cli/tokens"), "admin")
    assert.strictEqual(effective("DELETE", "/api/cli/tokens/:idOrPrefix"), "admin")
    assert.strictEqual(effective("GET", "/api/audit"), "admin")
    assert.strictEqual(effective("POST", "/api/server/shutdown"), "admin+loopback")
    assert.strictEqual(effective("GET", "/api/cli/whoami"), "read")
  })
})

describe("ScopeGuard decisions", () => {
  const scope = fc.constantFrom<Scope>(...allScopes)
  const method = fc.constantFrom("GET", "POST", "DELETE", "PATCH")

  it.prop("checkScope allows exactly when the granted scope satisfies the required one", [
    fc.constantFrom<Scope | "inferred">("inferred", ...allScopes),
    method,
    scope
  ], ([ruleScope, m, granted]) => {
    const rule = { _tag: "Scoped", scope: ruleScope, loopbackOnly: false } as const
    const decision = checkScope(rule, m, granted)
    assert.strictEqual(Either.isRight(decision), satisfies(granted, requiredScope(rule, m)))
    if (Either.isLeft(decision)) {
      assert.strictEqual(decision.left.granted, granted)
      assert.strictEqual(decision.left.required, requiredScope(rule, m))
    }
  })

  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."))

  it.prop("loopback means 127.0.0.0/8 or ::1 and nothing else", [ipv4], ([address]) => {
    assert.strictEqual(isLoopback(address), address.startsWith("127."))
    assert.strictEqual(isLoopback(`::ffff:${address}`), address.startsWith("127."))
  })

  it("IPv6 loopback is ::1 only; LAN and link-local addresses are not loopback", () => {
    assert.isTrue(isLoopback("::1"))
    for (const peer of ["::", "fe80::1", "::2", "10.0.0.1", "192.168.1.10", "localhost", ""]) {
      assert.isFalse(isLoopback(peer), peer)
    }
  })

  it.prop("loopback-only rules refuse any forwarded request and any non-loopback peer", [
    fc.oneof(ipv4, fc.constant("::1"), fc.constant(null)),
    fc.boolean()
  ], ([peer, forwarded]) => {
    const rule = { _tag: "Scoped", scope: "admin", loopbackOnly: true } as const
    const allowed = Either.isRight(checkPeer(rule, { method: "POST", peer, forwarded }))
    assert.strictEqual(allowed, !forwarded && peer !== null && isLoopback(peer))
  })
})

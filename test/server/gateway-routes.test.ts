/**
 * The gateway's route rules: its management routes are in the HttpApi and
 * need admin; its own routes (models and inference) are served exactly from
 * GATEWAY_ROUTES, each with a declared access rule, and none of them is
 * shadowed by or shadows an HttpApi route. (That each is served and enforces
 * its rule is checked against a real server in gateway-api.test.ts.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { TetherApi } from "../../src/domain/api/index.js"
import { GATEWAY_ROUTES, INFERENCE_ROUTES, MODELS_ROUTE } from "../../src/domain/gateway-routes.js"
import { requiredScope } from "../../src/domain/route-rule.js"
import { routesOf } from "../../src/services/scope-guard/ScopeGuard.js"

const apiRoutes = routesOf(TetherApi)

describe("gateway route rules", () => {
  it("providers, keys and usage routes are admin-only", () => {
    const gatewayGroups = apiRoutes.filter((r) => ["providers", "keys", "usage"].includes(r.group))
    assert.deepStrictEqual(gatewayGroups.map((r) => `${r.method} ${r.path}`).sort(), [
      "DELETE /v1/keys/:idOrPrefix",
      "DELETE /v1/providers/:name",
      "GET /v1/keys",
      "GET /v1/providers",
      "GET /v1/providers/:name",
      "GET /v1/usage",
      "POST /v1/keys",
      "POST /v1/providers"
    ])
    for (const route of gatewayGroups) {
      const rule = Option.getOrThrow(route.rule)
      assert.strictEqual(rule._tag, "Scoped")
      if (rule._tag === "Scoped") assert.strictEqual(requiredScope(rule, route.method), "admin", route.path)
    }
  })

  it("every gateway route declares its access, inference routes take keys only", () => {
    assert.deepStrictEqual(GATEWAY_ROUTES.map((r) => `${r.method} ${r.path} ${r.access}`), [
      "GET /v1/models inferenceOrRead",
      "POST /v1/chat/completions inference",
      "POST /v1/responses inference",
      "POST /v1/messages inference"
    ])
    assert.strictEqual(MODELS_ROUTE.format, null)
    assert.deepStrictEqual(INFERENCE_ROUTES.map((r) => r.format), ["openai-chat", "openai-responses", "anthropic"])
  })

  it("no gateway route collides with an HttpApi route", () => {
    const api = new Set(apiRoutes.map((r) => `${r.method} ${r.path}`))
    for (const route of GATEWAY_ROUTES) assert.isFalse(api.has(`${route.method} ${route.path}`), route.path)
  })
})

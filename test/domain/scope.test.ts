import { describe, it } from "@effect/vitest"
import { assert } from "@effect/vitest"
import fc from "fast-check"
import { requiredScope, type RouteRule, scopeForMethod } from "../../src/domain/route-rule.js"
import { allScopes, satisfies, type Scope, weaker } from "../../src/domain/scope.js"

const scope = fc.constantFrom<Scope>(...allScopes)
const method = fc.constantFrom("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "get", "post")

describe("scope lattice read ⊂ write ⊂ admin", () => {
  it.prop("satisfies is reflexive", [scope], ([s]) => assert.isTrue(satisfies(s, s)))

  it.prop("satisfies is transitive", [scope, scope, scope], ([a, b, c]) => {
    if (satisfies(a, b) && satisfies(b, c)) assert.isTrue(satisfies(a, c))
  })

  it.prop("satisfies is antisymmetric and total (a chain)", [scope, scope], ([a, b]) => {
    assert.isTrue(satisfies(a, b) || satisfies(b, a))
    if (satisfies(a, b) && satisfies(b, a)) assert.strictEqual(a, b)
  })

  it("the chain is exactly read < write < admin", () => {
    assert.deepStrictEqual(
      allScopes.flatMap((g) => allScopes.filter((r) => satisfies(g, r)).map((r) => `${g}>=${r}`)),
      ["read>=read", "write>=read", "write>=write", "admin>=read", "admin>=write", "admin>=admin"]
    )
  })

  it.prop("weaker is the meet", [scope, scope], ([a, b]) => {
    const m = weaker(a, b)
    assert.isTrue(satisfies(a, m) && satisfies(b, m))
    assert.isTrue(m === a || m === b)
  })
})

describe("rule inference", () => {
  it.prop("safe methods need read, all others write", [method], ([m]) => {
    const safe = ["GET", "HEAD", "OPTIONS"].includes(m.toUpperCase())
    assert.strictEqual(scopeForMethod(m), safe ? "read" : "write")
  })

  it.prop("an explicit scope always wins over inference; inferred never exceeds write", [method, scope], ([m, s]) => {
    const explicit: Extract<RouteRule, { _tag: "Scoped" }> = { _tag: "Scoped", scope: s, loopbackOnly: false }
    const inferred: Extract<RouteRule, { _tag: "Scoped" }> = { _tag: "Scoped", scope: "inferred", loopbackOnly: false }
    assert.strictEqual(requiredScope(explicit, m), s)
    assert.notStrictEqual(requiredScope(inferred, m), "admin")
  })
})

import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { headerCredential } from "../../src/domain/credential-header.js"

describe("headerCredential", () => {
  it("reads Bearer tokens, bare Authorization values and X-API-Key; empty headers count as absent", () => {
    const of = (headers: Record<string, string>) => Option.getOrNull(headerCredential(headers))
    assert.strictEqual(of({ authorization: "Bearer  tat_abc " }), "tat_abc")
    assert.strictEqual(of({ authorization: "bearer tsk_x" }), "tsk_x")
    assert.strictEqual(of({ authorization: "tat_bare" }), "tat_bare")
    assert.strictEqual(of({ "x-api-key": " tsk_key " }), "tsk_key")
    assert.strictEqual(of({ authorization: "Bearer tat_a", "x-api-key": "tsk_b" }), "tat_a")
    assert.strictEqual(of({ authorization: "  ", "x-api-key": "tsk_b" }), "tsk_b")
    assert.isNull(of({}))
    assert.isNull(of({ "x-api-key": "" }))
  })
})

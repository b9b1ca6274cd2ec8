/** The forwarder's close-code and close-reason rules (the forwarding itself: test/integration/terminal-instances.test.ts). */
import { assert, describe, it } from "@effect/vitest"
import { closeReason, sendableCode } from "../../src/server/terminal-forward.js"

describe("forwarding a viewer: close frames passed on", () => {
  it("passes on the codes an endpoint may send, never 1004-1006 or 1015", () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1011, 1013, 1014, 3000, 4307, 4404, 4999]) assert.isTrue(sendableCode(code), String(code))
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) assert.isFalse(sendableCode(code), String(code))
  })

  it("keeps a reason within the protocol's 123 bytes, also when it is cut inside a multi-byte character", () => {
    assert.strictEqual(closeReason("the terminal moved"), "the terminal moved")
    for (const reason of ["x".repeat(500), "é".repeat(200), "終".repeat(100), "a" + "😀".repeat(60)]) {
      assert.isAtMost(Buffer.byteLength(closeReason(reason), "utf8"), 123, reason.slice(0, 10))
    }
  })
})

import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { makeSessionKit } from "../../src/services/harness/agents/session-kit.js"

describe("session kit approvals", () => {
  it.effect("cancelAll built before an approval was requested still denies it when it runs (an interrupt built once)", () =>
    Effect.gen(function*() {
      const events: Array<SessionEvent> = []
      const kit = yield* makeSessionKit("test", (event) => Effect.sync(() => void events.push(event)))
      const interrupt = kit.approvals.cancelAll("interrupted by the user")
      const waiting = yield* Effect.fork(kit.approvals.request("write_file", { path: "x" }, null))
      yield* Effect.yieldNow()
      assert.strictEqual(kit.approvals.pending(), 1)
      yield* interrupt
      const answer = yield* Fiber.join(waiting)
      assert.deepInclude(answer, { allowed: false, note: "interrupted by the user" })
      assert.isTrue(events.some((e) => e.type === "approval_request"))
    }))
})

import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Harness } from "../../src/services/harness/Harness.js"
import { HarnessError } from "../../src/services/harness/Harness.js"
import { HarnessRegistry } from "../../src/services/harness/HarnessRegistry.js"

/** A harness that is never ready (as one whose CLI is not installed). */
const missing: Harness = {
  name: "missing-cli",
  capabilities: ["streaming", "approvals"],
  readiness: Effect.succeed({ ready: false, detail: "missing-cli not found on PATH" }),
  start: () => Effect.fail(new HarnessError({ harness: "missing-cli", reason: "not installed" }))
}

describe("HarnessRegistry", () => {
  it.effect("the default registry offers every built-in harness; shell and terminal are always ready", () =>
    Effect.gen(function*() {
      const registry = yield* HarnessRegistry
      assert.deepStrictEqual(registry.names, ["shell", "terminal", "claude-sdk", "codex", "openai-agents", "pi", "claude-native", "codex-native"])
      assert.isTrue(Option.isNone(registry.get("no-such-harness")))
      const infos = yield* registry.describe()
      const byName = new Map(infos.map((h) => [h.name, h]))
      assert.deepInclude({ ...byName.get("shell") }, { capabilities: ["streaming", "interrupt"], ready: true, detail: null })
      assert.deepInclude({ ...byName.get("terminal") }, { capabilities: ["streaming", "interrupt", "terminal"], ready: true })
      // Agent harnesses report readiness per machine (credentials, binaries); their capabilities are fixed.
      assert.include(byName.get("claude-sdk")?.capabilities ?? [], "approvals")
      assert.include(byName.get("codex")?.capabilities ?? [], "approvals")
    }).pipe(Effect.provide(HarnessRegistry.Default)))

  it.effect("describe reports each harness's readiness and detail", () =>
    Effect.gen(function*() {
      const registry = yield* HarnessRegistry
      const infos = yield* registry.describe()
      assert.deepStrictEqual(infos.map((h) => [h.name, h.ready, h.detail]), [["missing-cli", false, "missing-cli not found on PATH"]])
    }).pipe(Effect.provide(HarnessRegistry.layerFor([missing]))))

  it("refuses two harnesses with one name", () => {
    assert.throws(() => HarnessRegistry.layerFor([missing, missing]), /duplicate harness name: missing-cli/)
  })
})

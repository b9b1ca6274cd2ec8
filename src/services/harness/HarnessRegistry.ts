/**
 * The harnesses this host offers. Adding one is one file exporting a
 * `Harness` plus one line in `builtinHarnesses`.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { HarnessInfo } from "../../domain/host.js"
import { claudeNativeHarness } from "./claude-native.js"
import { claudeSdkHarness } from "./claude-sdk.js"
import { codexNativeHarness } from "./codex-native.js"
import { codexHarness } from "./codex.js"
import type { Harness } from "./Harness.js"
import { openAiAgentsHarness } from "./openai-agents.js"
import { piHarness } from "./pi.js"
import { shellHarness } from "./shell.js"
import { terminalHarness } from "./terminal.js"

/** Every harness a runner offers by default, in the order hosts list them. */
export const builtinHarnesses: ReadonlyArray<Harness> = [
  shellHarness,
  terminalHarness,
  claudeSdkHarness,
  codexHarness,
  openAiAgentsHarness,
  piHarness,
  claudeNativeHarness,
  codexNativeHarness
]

const makeRegistry = (harnesses: ReadonlyArray<Harness>) => {
  const byName = new Map<string, Harness>()
  for (const harness of harnesses) {
    if (byName.has(harness.name)) throw new Error(`duplicate harness name: ${harness.name}`)
    byName.set(harness.name, harness)
  }
  const names: ReadonlyArray<string> = harnesses.map((h) => h.name)

  const get = (name: string): Option.Option<Harness> => Option.fromNullable(byName.get(name))

  /** Each harness with its capabilities and current readiness (checked concurrently). */
  const describe = (): Effect.Effect<ReadonlyArray<HarnessInfo>> => Effect.forEach(
    harnesses,
    (harness) =>
      Effect.map(
        harness.readiness,
        (readiness) =>
          new HarnessInfo({
            name: harness.name,
            capabilities: harness.capabilities,
            ready: readiness.ready,
            detail: readiness.detail
          })
      ),
    { concurrency: "unbounded" }
  ).pipe(Effect.withSpan("HarnessRegistry.describe"))

  return { names, get, describe } as const
}

export class HarnessRegistry extends Effect.Service<HarnessRegistry>()("tether/HarnessRegistry", {
  succeed: makeRegistry(builtinHarnesses)
}) {
  /** A registry of exactly these harnesses (tests, or a runner started with a subset). */
  static readonly layerFor = (harnesses: ReadonlyArray<Harness>): Layer.Layer<HarnessRegistry> =>
    Layer.succeed(HarnessRegistry, HarnessRegistry.make(makeRegistry(harnesses)))
}

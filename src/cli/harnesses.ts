/**
 * `tether harnesses [--json]`: the harnesses a `tether host` on this machine
 * would offer, with their capabilities and whether each can run here now
 * (package installed, credentials found) and what it would use. Checked
 * locally, without a server: the same readiness the runner reports when it
 * connects. Agent SDKs are loaded to check them, so this takes a moment.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import type { HarnessInfo } from "../domain/host.js"
import { printJson, printTable } from "./output.js"

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))

export const harnessesCommand = Command.make("harnesses", { json }, ({ json }) =>
  Effect.gen(function*() {
    // The registry pulls in every harness module: loaded only when this command runs, never at start-up.
    const { HarnessRegistry } = yield* Effect.promise(() => import("../services/harness/HarnessRegistry.js"))
    const harnesses = yield* Effect.flatMap(HarnessRegistry, (registry) => registry.describe()).pipe(Effect.provide(HarnessRegistry.Default))
    if (json) return yield* printJson(harnesses)
    yield* printTable<HarnessInfo>([
      { header: "NAME", get: (h) => h.name },
      { header: "READY", get: (h) => (h.ready ? "yes" : "no") },
      { header: "CAPABILITIES", get: (h) => (h.capabilities.length === 0 ? "-" : h.capabilities.join(",")) },
      { header: "DETAIL", get: (h) => h.detail ?? "" }
    ], harnesses)
  })).pipe(
    Command.withDescription("List the harnesses this machine offers, their capabilities and readiness")
  )

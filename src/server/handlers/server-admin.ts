import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { TetherApi } from "../../domain/api/index.js"
import { ServerStatus } from "../../domain/server-info.js"
import { TETHER_VERSION } from "../../domain/version.js"
import { ServerFacts, ServerLifecycle } from "../../services/lifecycle/ServerLifecycle.js"

export const ServerAdminHandlers = HttpApiBuilder.group(TetherApi, "server", (handlers) =>
  Effect.gen(function*() {
    const lifecycle = yield* ServerLifecycle
    const facts = yield* ServerFacts
    return handlers
      .handle("status", () =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          return new ServerStatus({
            version: TETHER_VERSION,
            pid: lifecycle.pid,
            startedAt: DateTime.unsafeMake(lifecycle.startedAt),
            uptimeSeconds: Math.max(0, (now - lifecycle.startedAt) / 1000),
            database: facts.database,
            listen: facts.listen
          })
        }))
      .handle("shutdown", () =>
        // Answer first, then stop: the response must leave before the listener closes.
        lifecycle.requestShutdown.pipe(
          Effect.delay("100 millis"),
          Effect.forkDaemon,
          Effect.as({ stopping: true as const })
        ))
  }))

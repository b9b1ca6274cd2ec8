/**
 * Facts about the running server process (for `server status`) and the
 * signal that asks it to shut down gracefully (the loopback-only route).
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { DatabaseKind } from "../../domain/server-info.js"

export class ServerLifecycle extends Effect.Service<ServerLifecycle>()("tether/ServerLifecycle", {
  effect: Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const shutdownRequested = yield* Deferred.make<void>()
    const stopping = yield* Deferred.make<void>()
    return {
      startedAt,
      pid: process.pid,
      /** Completes when the server begins to stop: long-lived responses (SSE) end then. */
      stopping: Deferred.await(stopping),
      beginStopping: Deferred.succeed(stopping, undefined).pipe(Effect.asVoid),
      /** Completes when a client asked the server to stop. */
      awaitShutdown: Deferred.await(shutdownRequested),
      requestShutdown: Deferred.succeed(shutdownRequested, undefined).pipe(Effect.asVoid)
    } as const
  })
}) {}

/** What the server tells about where it listens and what it stores in. */
export class ServerFacts extends Effect.Tag("tether/ServerFacts")<ServerFacts, {
  readonly listen: string
  readonly database: DatabaseKind
}>() {
  static layer = (facts: { readonly listen: string; readonly database: DatabaseKind }) => Layer.succeed(ServerFacts, facts)
}

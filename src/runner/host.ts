/**
 * `tether host`: the daemon that keeps this machine connected to a server and
 * runs the sessions the server starts here.
 *
 * `runHost` runs until it is interrupted (SIGINT/SIGTERM through runMain) or
 * the tunnel stops for good (`TunnelStopped`: protocol mismatch, superseded by
 * another runner for this host, token rejected).
 *
 * Crash: with a `stateDir`, a runner that dies without shutting down (SIGKILL,
 * power loss) leaves its journals and its `shell` sessions' supervisors
 * behind; the next runner for the same host name resends what the server
 * lacks and re-attaches (see SessionManager and EventOutbox).
 *
 * Shutdown: sessions do not outlive their runner. Every session is stopped
 * (SIGTERM to its process group, SIGKILL after the grace period) while the
 * tunnel is still up, and their final events are flushed to the server for
 * up to `flushTimeout`; then the tunnel closes. A session the server still
 * considers running waits for the host to come back (the server's grace
 * period) and is then marked `host_lost`.
 */
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as NodePath from "node:path"
import type { Harness } from "../services/harness/Harness.js"
import { HarnessRegistry } from "../services/harness/HarnessRegistry.js"
import { EventOutbox, type EventOutboxOptions } from "./EventOutbox.js"
import { SessionManager } from "./SessionManager.js"
import { RunnerTerminals } from "./terminal/RunnerTerminals.js"
import { TunnelClient, TunnelConfig, type TunnelClientOptions, type TunnelStopped } from "./TunnelClient.js"

export interface RunHostOptions {
  readonly serverUrl: string
  readonly token: Redacted.Redacted<string>
  readonly hostName: string
  /** The harnesses to offer; default: every built-in one. */
  readonly harnesses?: ReadonlyArray<Harness>
  readonly outbox?: EventOutboxOptions
  /**
   * The runner's durable state (`$TETHER_HOME/runner/<host name>`): session
   * journals and supervised processes' files under `sessions/`, so sessions
   * survive a crash of this process. Without it everything is in memory.
   */
  readonly stateDir?: string
  /** How long shutdown waits for the sessions' final events to reach the server. Default 2 s. */
  readonly flushTimeout?: Duration.DurationInput
  readonly tunnel?: Pick<TunnelClientOptions, "heartbeatInterval" | "heartbeatTimeout" | "openTimeout" | "reconnectSchedule">
}

const outboxLayer = (options: RunHostOptions): Layer.Layer<EventOutbox> =>
  options.outbox === undefined && options.stateDir === undefined
    ? EventOutbox.Default
    : EventOutbox.layer({
      ...options.outbox,
      ...(options.stateDir === undefined ? {} : { directory: NodePath.join(options.stateDir, "sessions") })
    })

/** Registry, outbox, session manager and tunnel client, wired together. */
export const layerRunner = (
  options: RunHostOptions
): Layer.Layer<TunnelClient | SessionManager | EventOutbox | HarnessRegistry, ConfigError.ConfigError> =>
  TunnelClient.Default.pipe(
    Layer.provideMerge(SessionManager.DefaultWithoutDependencies),
    Layer.provideMerge(RunnerTerminals.Default),
    Layer.provideMerge(outboxLayer(options)),
    Layer.provideMerge(options.harnesses === undefined ? HarnessRegistry.Default : HarnessRegistry.layerFor(options.harnesses)),
    Layer.provide(Layer.succeed(TunnelConfig, {
      ...options.tunnel,
      serverUrl: options.serverUrl,
      token: options.token,
      hostName: options.hostName
    }))
  )

/** Stops every session, then gives their last events a moment to reach the server. */
const shutdown = (flushTimeout: Duration.Duration) =>
  Effect.gen(function*() {
    const sessions = yield* SessionManager
    const outbox = yield* EventOutbox
    const tunnel = yield* TunnelClient
    yield* Effect.logInfo("runner: stopping sessions")
    yield* sessions.stopAll
    if ((yield* tunnel.state).connected) {
      yield* outbox.drained.pipe(Effect.timeout(flushTimeout), Effect.ignore)
    }
  })

/** Runs the host daemon in the current context (see `layerRunner`). */
export const runRunner = (flushTimeout: Duration.DurationInput = "2 seconds"): Effect.Effect<
  never,
  TunnelStopped,
  TunnelClient | SessionManager | EventOutbox
> =>
  Effect.scoped(
    Effect.gen(function*() {
      const tunnel = yield* TunnelClient
      const fiber = yield* Effect.forkScoped(tunnel.run)
      // Finalizers run in reverse: sessions stop and flush while the tunnel fiber is still up.
      const context = yield* Effect.context<SessionManager | EventOutbox | TunnelClient>()
      yield* Effect.addFinalizer(() => shutdown(Duration.decode(flushTimeout)).pipe(Effect.provide(context)))
      return yield* Fiber.join(fiber)
    })
  )

/** `tether host`: connects to the server and runs sessions until interrupted or stopped for good. */
export const runHost = (options: RunHostOptions): Effect.Effect<never, TunnelStopped | ConfigError.ConfigError> =>
  runRunner(options.flushTimeout).pipe(Effect.provide(layerRunner(options)))

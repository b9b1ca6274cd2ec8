/**
 * The runner's end of the tunnel (see `domain/rpc/tunnel.ts`): one outgoing
 * WebSocket to `<server>/v1/runners/tunnel` speaking @effect/rpc with NDJSON
 * serialization.
 *
 * - Auth: `Authorization: Bearer <token>` on the WebSocket upgrade request,
 *   and again in the headers of every RPC call (RunnerAuth client
 *   middleware). The token is never put in the URL.
 * - `Connect` announces the protocol version, host name, runner version and
 *   harnesses (with readiness). The stream starts with `welcome`, then
 *   commands. Each command is acted on in order, then acknowledged with
 *   `AckCommand`. A command with a `commandSeq` at or below the last one
 *   processed (redelivered after a lost acknowledgement) is not acted on
 *   again, only acknowledged again.
 * - Events are pushed per session in batches of up to 1000 (whatever
 *   accumulated while the previous push was in flight), oldest first;
 *   `ackedThrough` from each `PushEvents` trims the outbox.
 * - `Heartbeat` every 10 s (a missing answer within 10 s counts as a lost
 *   connection; the RPC layer also pings).
 * - Any disconnect or transport error: reconnect forever, with jittered
 *   exponential backoff from 0.5 s capped at 5 s (reset once a connection
 *   is welcomed), then resend everything unacknowledged.
 * - Stops for good on `ProtocolMismatch` (both versions in the message),
 *   `Superseded` (another runner took this host over) and a rejected token
 *   (`Unauthorized` / `Forbidden`): retrying could not help.
 */
import * as Headers from "@effect/platform/Headers"
import * as Socket from "@effect/platform/Socket"
import * as RpcClient from "@effect/rpc/RpcClient"
import type { RpcClientError } from "@effect/rpc/RpcClientError"
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import WebSocket from "ws"
import type { Forbidden, Unauthorized } from "../domain/errors.js"
import { type NotConnected, type RunnerCommand, RunnerAuth, TUNNEL_PATH, TUNNEL_PROTOCOL_VERSION, TunnelRpcs } from "../domain/rpc/tunnel.js"
import { webSocketUrl } from "../domain/server-url.js"
import { TETHER_VERSION } from "../domain/version.js"
import { HarnessRegistry } from "../services/harness/HarnessRegistry.js"
import { EventOutbox } from "./EventOutbox.js"
import { SessionManager } from "./SessionManager.js"
import { type TunnelClientOptions, TunnelConfig } from "./TunnelConfig.js"

export { type TunnelClientOptions, TunnelConfig } from "./TunnelConfig.js"

/** At most this many events per `PushEvents` (the contract's limit). */
export const MAX_EVENT_BATCH = 1000


/** The server and this runner speak different tunnel protocol versions. */
export class TunnelProtocolMismatch extends Data.TaggedError("TunnelProtocolMismatch")<{
  readonly serverProtocol: number
  readonly runnerProtocol: number
  readonly detail: string
}> {
  override get message(): string {
    return `tunnel protocol mismatch: the server speaks version ${this.serverProtocol}, this runner (tether ${TETHER_VERSION}) speaks version ${this.runnerProtocol} (${this.detail}); install matching versions of tether`
  }
}

/** Another runner connected as this host and took over. */
export class TunnelSuperseded extends Data.TaggedError("TunnelSuperseded")<{ readonly detail: string }> {
  override get message(): string {
    return `another runner took over this host; this one stops (${this.detail})`
  }
}

/** The server refused the token (unknown, expired, revoked, or a scope below write). */
export class TunnelRejected extends Data.TaggedError("TunnelRejected")<{ readonly detail: string }> {
  override get message(): string {
    return `the server rejected the runner's token: ${this.detail}`
  }
}

export type TunnelStopped = TunnelProtocolMismatch | TunnelSuperseded | TunnelRejected

/** A connection ended; the client reconnects. */
class ConnectionLost extends Data.TaggedError("ConnectionLost")<{ readonly reason: string }> {}

export interface TunnelState {
  /** Whether the current connection was welcomed. */
  readonly connected: boolean
  /** The host id the server gave in its last welcome. */
  readonly hostId: string | null
  /** Welcomed connections so far. */
  readonly connections: number
  /** The highest commandSeq acted on. */
  readonly lastCommandSeq: number
  /** Why the last connection ended, if one did. */
  readonly lastDisconnect: string | null
}

/** `http(s)://host[:port][/prefix]` → `ws(s)://host[:port][/prefix]/v1/runners/tunnel` (no query, no credentials). */
export const tunnelUrl = (serverUrl: string): string => webSocketUrl(serverUrl, TUNNEL_PATH)

/** The default reconnect delays: 0.5 s, 1 s, 2 s, 4 s (each ±20 %), then 5 s. */
export const defaultReconnectSchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential("500 millis", 2).pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("5 seconds"))
)

const bearer = (token: Redacted.Redacted<string>): string => `Bearer ${Redacted.value(token)}`

/**
 * Opens WebSockets with `ws`, which (unlike the WHATWG API) can set the
 * upgrade request's headers. `onHttpStatus` hears the status of an upgrade
 * the server answered with a plain HTTP response (401, 403, 404 …).
 */
export const layerWebSocketConstructor = (
  token: Redacted.Redacted<string>,
  onHttpStatus: (status: number) => void = () => {}
): Layer.Layer<Socket.WebSocketConstructor> =>
  Layer.succeed(Socket.WebSocketConstructor, (url, protocols) => {
    const socket = new WebSocket(url, protocols, { headers: { authorization: bearer(token) } })
    // Errors are reported through the Socket's own listener; this one only keeps
    // a late error (after that listener is gone) from crashing the process.
    socket.on("error", (error) => {
      const status = /Unexpected server response: (\d{3})/.exec(error.message)?.[1]
      if (status !== undefined) onHttpStatus(Number(status))
    })
    // `ws` implements the WHATWG WebSocket surface the platform Socket uses (events, send, close, readyState).
    return socket as unknown as globalThis.WebSocket
  })

/** Adds the token to every RPC call's headers too. */
export const layerAuthClient = (token: Redacted.Redacted<string>) =>
  RpcMiddleware.layerClient(RunnerAuth, ({ request }) =>
    Effect.succeed({ ...request, headers: Headers.set(request.headers, "authorization", bearer(token)) }))

/** The RPC protocol over one WebSocket (NDJSON, like the server). Reconnecting is the caller's job. */
const layerProtocol = (options: TunnelClientOptions, onHttpStatus: (status: number) => void) =>
  RpcClient.layerProtocolSocket({ retryTransientErrors: false }).pipe(
    Layer.provide(
      Layer.scoped(
        Socket.Socket,
        Socket.makeWebSocket(tunnelUrl(options.serverUrl), { openTimeout: options.openTimeout ?? "10 seconds" })
      )
    ),
    Layer.provide(layerWebSocketConstructor(options.token, onHttpStatus)),
    Layer.provide(RpcSerialization.layerNdjson)
  )

/** "Error in socket (Close)", "Error in socket (Open)" … */
const describeRpcError = (error: RpcClientError): string => {
  const cause: unknown = error.cause
  if (typeof cause !== "object" || cause === null || !("reason" in cause)) return error.message
  return `${error.message} (${String(cause.reason)})`
}

export class TunnelClient extends Effect.Service<TunnelClient>()("tether/runner/TunnelClient", {
  effect: Effect.gen(function*() {
    const options = yield* TunnelConfig
    const outbox = yield* EventOutbox
    const sessions = yield* SessionManager
    const registry = yield* HarnessRegistry
    const heartbeatInterval = Duration.decode(options.heartbeatInterval ?? "10 seconds")
    const heartbeatTimeout = Duration.decode(options.heartbeatTimeout ?? "10 seconds")
    const reconnectSchedule = options.reconnectSchedule ?? defaultReconnectSchedule

    let state: TunnelState = { connected: false, hostId: null, connections: 0, lastCommandSeq: 0, lastDisconnect: null }

    /** One connection, from opening the socket until it is lost. */
    const connectOnce = (onWelcome: Effect.Effect<void>): Effect.Effect<never, ConnectionLost | TunnelStopped> =>
      Effect.scoped(
        Effect.gen(function*() {
          let httpStatus: number | null = null
          const context = yield* Layer.build(
            Layer.merge(
              layerProtocol(options, (status) => {
                httpStatus = status
              }),
              layerAuthClient(options.token)
            )
          )
          const client = yield* RpcClient.make(TunnelRpcs).pipe(Effect.provide(context))
          const welcomed = yield* Deferred.make<void>()
          const lost = (error: RpcClientError) => new ConnectionLost({ reason: describeRpcError(error) })
          const callFailure = (error: RpcClientError | NotConnected | Unauthorized | Forbidden): ConnectionLost | TunnelRejected => {
            switch (error._tag) {
              case "RpcClientError":
                return lost(error)
              case "NotConnected":
                return new ConnectionLost({ reason: `server: ${error.error}` })
              default:
                return new TunnelRejected({ detail: error.error })
            }
          }

          const handleCommand = (command: RunnerCommand) =>
            Effect.gen(function*() {
              if (command.commandSeq > state.lastCommandSeq) {
                yield* sessions.dispatch(command)
                state = { ...state, lastCommandSeq: command.commandSeq }
              } else {
                yield* Effect.logDebug(`tunnel: command ${command.commandSeq} already processed; acknowledging again`)
              }
              yield* client.AckCommand({ commandSeq: command.commandSeq }).pipe(Effect.mapError(callFailure))
            })

          const harnesses = yield* registry.describe()
          const commands = client.Connect({
            protocolVersion: TUNNEL_PROTOCOL_VERSION,
            hostName: options.hostName,
            runnerVersion: TETHER_VERSION,
            harnesses
          }).pipe(
            Stream.runForEach((message) =>
              message.type === "welcome"
                ? Effect.gen(function*() {
                  // Command sequences are per host: another host id (a reset server) starts a new one.
                  const lastCommandSeq = state.hostId === null || state.hostId === message.hostId ? state.lastCommandSeq : 0
                  state = { ...state, connected: true, hostId: message.hostId, connections: state.connections + 1, lastCommandSeq }
                  yield* Effect.logInfo(`tunnel: connected as host ${message.hostId} (server ${message.serverVersion})`)
                  yield* sessions.adopt(message.sessions)
                  yield* onWelcome
                  yield* Deferred.succeed(welcomed, undefined)
                })
                : handleCommand(message)
            ),
            Effect.catchTags({
              RpcClientError: (e) => Effect.fail(lost(e)),
              ProtocolMismatch: (e) =>
                Effect.fail(
                  new TunnelProtocolMismatch({ serverProtocol: e.serverProtocol, runnerProtocol: e.runnerProtocol, detail: e.error })
                ),
              Superseded: (e) => Effect.fail(new TunnelSuperseded({ detail: e.error })),
              Unauthorized: (e) => Effect.fail(new TunnelRejected({ detail: e.error })),
              Forbidden: (e) => Effect.fail(new TunnelRejected({ detail: e.error }))
            }),
            Effect.zipRight(Effect.fail(new ConnectionLost({ reason: "the server ended the command stream" })))
          )

          const push = Effect.gen(function*() {
            for (;;) {
              const batches = yield* outbox.batches(MAX_EVENT_BATCH)
              if (batches.length === 0) {
                yield* outbox.awaitPending
                continue
              }
              let progressed = false
              yield* Effect.forEach(
                batches,
                ({ events, sessionId }) =>
                  client.PushEvents({ sessionId, events }).pipe(
                    Effect.flatMap(({ ackedThrough }) => {
                      if (ackedThrough >= (events[0]?.rseq ?? Infinity)) progressed = true
                      return outbox.acknowledge(sessionId, ackedThrough)
                    }),
                    Effect.catchTag("UnknownSession", (e) =>
                      Effect.logWarning(`tunnel: the server does not know session ${sessionId} (${e.error}); stopping it here`).pipe(
                        Effect.zipRight(sessions.forget(sessionId)),
                        Effect.tap(() => {
                          progressed = true
                        })
                      )),
                    Effect.mapError(callFailure)
                  ),
                { concurrency: 4, discard: true }
              )
              // The server stored nothing new (e.g. a failing store): do not spin.
              if (!progressed) yield* Effect.sleep("1 second")
            }
          })

          const heartbeat = Effect.gen(function*() {
            for (;;) {
              yield* Effect.sleep(heartbeatInterval)
              yield* client.Heartbeat({ sentAt: Date.now() }).pipe(
                Effect.timeoutFail({
                  duration: heartbeatTimeout,
                  onTimeout: () => new ConnectionLost({ reason: "no heartbeat answer" })
                }),
                Effect.mapError((e) => e._tag === "ConnectionLost" ? e : callFailure(e))
              )
            }
          })

          const afterWelcome = Effect.zipRight(Deferred.await(welcomed), Effect.raceFirst(push, heartbeat))
          return yield* Effect.raceFirst(commands, afterWelcome).pipe(
            // An upgrade refused with 401/403 is a token problem, not a network one.
            Effect.mapError((error) =>
              error._tag === "ConnectionLost" && (httpStatus === 401 || httpStatus === 403)
                ? new TunnelRejected({
                  detail: httpStatus === 401
                    ? "the server refused the token (HTTP 401: missing, unknown, expired or revoked); get one with `tether connect`"
                    : "the token's scope is too weak (HTTP 403): a host needs a write-scope (or admin) access token"
                })
                : error
            )
          )
        })
      ).pipe(
        Effect.ensuring(Effect.sync(() => {
          state = { ...state, connected: false }
        }))
      )

    /**
     * Keeps the tunnel up until it is interrupted, or fails when the server
     * says retrying cannot help (protocol mismatch, superseded, token refused).
     */
    const run: Effect.Effect<never, TunnelStopped> = Effect.gen(function*() {
      const driver = yield* Schedule.driver(reconnectSchedule)
      for (;;) {
        const error = yield* Effect.flip(connectOnce(driver.reset))
        if (error._tag !== "ConnectionLost") {
          yield* Effect.logError(`tunnel: ${error.message}`)
          return yield* error
        }
        state = { ...state, lastDisconnect: error.reason }
        yield* Effect.logWarning(`tunnel: connection lost (${error.reason}); reconnecting`)
        yield* driver.next(undefined).pipe(Effect.catchAll(() => Effect.sleep("5 seconds")))
      }
    }).pipe(Effect.withSpan("TunnelClient.run"))

    return {
      run,
      state: Effect.sync((): TunnelState => state)
    } as const
  })
}) {
  static readonly layer = (options: TunnelClientOptions) =>
    TunnelClient.Default.pipe(Layer.provide(Layer.succeed(TunnelConfig, options)))
}

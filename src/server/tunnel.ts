/**
 * The runner tunnel endpoint (`WS /v1/runners/tunnel`): TunnelRpcs served
 * over a WebSocket with NDJSON framing. Every call passes RunnerAuth, which
 * requires a write-scope access token in the upgrade request's
 * `Authorization: Bearer` (or `X-API-Key`) header; tokens in the URL are
 * never looked at. The upgrade itself is refused (401/403, no WebSocket) for
 * a request without such a token.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { Unauthorized } from "../domain/errors.js"
import { RunnerAuth, RunnerPrincipal, TUNNEL_PATH, TunnelRpcs } from "../domain/rpc/tunnel.js"
import { RUNNER_TUNNEL_ROUTE } from "../domain/websocket-routes.js"
import { checkScope } from "../services/scope-guard/ScopeGuard.js"
import { TokenStore } from "../services/tokens/TokenStore.js"
import { RunnerTunnel } from "../services/tunnel/RunnerTunnel.js"
import { headerCredential } from "../domain/credential-header.js"

/** The tunnel's access rule: a write-scope token (runners create sessions' events and run code). */
const TUNNEL_RULE = RUNNER_TUNNEL_ROUTE.rule

export const RunnerAuthLive = Layer.effect(
  RunnerAuth,
  Effect.gen(function*() {
    const tokens = yield* TokenStore
    return ({ headers }) =>
      Effect.map(authorizeRunner(tokens, headers), (row) => ({ tokenId: row.id, tokenName: `${row.name} (${row.prefix}…)` }))
  })
)

/** Checks the credential a tunnel request presents: the same rule for the upgrade and every call. */
export const authorizeRunner = (tokens: TokenStore, headers: Readonly<Record<string, string | undefined>>) =>
  Effect.gen(function*() {
    // Runners present their token in a header; the web session cookie is never a runner credential.
    const credential = headerCredential(headers)
    if (Option.isNone(credential)) {
      return yield* new Unauthorized({
        reason: "missing",
        error: "the runner tunnel needs a write-scope access token in the Authorization header"
      })
    }
    const { row } = yield* tokens.verify("access", credential.value)
    yield* checkScope(TUNNEL_RULE, "POST", row.scope)
    return row
  })

/** Refuses the WebSocket upgrade of an unauthenticated or under-scoped runner before any RPC runs. */
export const TunnelUpgradeGuard = HttpLayerRouter.middleware(
  Effect.gen(function*() {
    const tokens = yield* TokenStore
    return (app) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        if (request.url.split("?")[0] !== TUNNEL_PATH) return yield* app
        const refused = yield* Effect.flip(authorizeRunner(tokens, request.headers)).pipe(Effect.option)
        if (Option.isNone(refused)) return yield* app
        const status = refused.value._tag === "Unauthorized" ? 401 : 403
        return HttpServerResponse.unsafeJson(refused.value, { status })
      })
  }),
  { global: true }
)

const TunnelHandlers = TunnelRpcs.toLayer(
  Effect.gen(function*() {
    const tunnel = yield* RunnerTunnel
    return {
      Connect: (request, { clientId }) =>
        Stream.unwrap(Effect.map(RunnerPrincipal, (principal) => tunnel.connect(request, clientId, principal.tokenName))),
      AckCommand: ({ commandSeq }, { clientId }) => tunnel.ack(clientId, commandSeq),
      PushEvents: ({ events, sessionId }, { clientId }) => tunnel.pushEvents(clientId, sessionId, events),
      Heartbeat: ({ sentAt }, { clientId }) => Effect.map(tunnel.heartbeat(clientId), (serverAt) => ({ sentAt, serverAt }))
    }
  })
)

export const TunnelRoutes = Layer.mergeAll(
  RpcServer.layerHttpRouter({ group: TunnelRpcs, path: TUNNEL_PATH, protocol: "websocket" }).pipe(
    Layer.provide(TunnelHandlers),
    Layer.provide(RunnerAuthLive),
    Layer.provide(RpcSerialization.layerNdjson)
  ),
  TunnelUpgradeGuard
)

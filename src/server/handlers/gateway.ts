/**
 * The model gateway's own routes, registered from GATEWAY_ROUTES (so each
 * carries its declared access rule): `GET /v1/models` (the catalog in the
 * OpenAI list shape, narrowed to what an inference key may use) and the
 * inference routes, which authenticate the key, read the body and hand it to
 * the Gateway, whose streamed answer is returned as is. They are plain router
 * routes, outside the HttpApi, so the provider's bytes pass through untouched.
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type GatewayRoute, INFERENCE_ROUTES, MODELS_ROUTE } from "../../domain/gateway-routes.js"
import { modelAllowed } from "../../domain/model-glob.js"
import type { ProviderFormat } from "../../domain/provider.js"
import { Gateway, MAX_REQUEST_BYTES } from "../../services/gateway/Gateway.js"
import { GatewayAccess } from "../../services/gateway/GatewayAccess.js"
import { failureResponse, GatewayFailure } from "../../services/gateway/wire-errors.js"
import { ProviderRegistry } from "../../services/providers/ProviderRegistry.js"
import { sessionCookie } from "../web/cookie.js"

/** One catalog entry in the OpenAI list shape (plus what is known of its limits). */
export interface ModelObject {
  readonly id: string
  readonly object: "model"
  readonly created: number
  readonly owned_by: string
  readonly context_window: number | null
  readonly max_output_tokens: number | null
}

const modelsHandler = Effect.gen(function*() {
  const access = yield* GatewayAccess
  const providers = yield* ProviderRegistry
  return (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      // The web UI lists models with its session cookie (a GET: no CSRF concern, SameSite=Strict).
      const caller = yield* access.authorize(MODELS_ROUTE.access, request.headers, Option.fromNullable(sessionCookie(request.headers)))
      const globs = caller._tag === "Key" ? caller.key.models : null
      const catalog = yield* providers.catalog
      const data: Array<ModelObject> = catalog
        .filter((model) => modelAllowed(globs, model.id))
        .map((model) => ({
          id: model.id,
          object: "model",
          created: Math.floor(model.createdAt / 1000),
          owned_by: model.provider,
          context_window: model.contextWindow,
          max_output_tokens: model.maxOutputTokens
        }))
      return HttpServerResponse.unsafeJson({ object: "list", data })
    }).pipe(Effect.catchTag("GatewayFailure", (failure) => Effect.succeed(failureResponse(null, failure))))
})

const inferenceHandler = (format: ProviderFormat) =>
  Effect.gen(function*() {
    const access = yield* GatewayAccess
    const gateway = yield* Gateway
    return (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        const startedAt = performance.now()
        const caller = yield* access.authorize("inference", request.headers)
        if (caller._tag !== "Key") {
          return yield* new GatewayFailure({ status: 401, kind: "authentication", message: "an inference key is required" })
        }
        const body = yield* request.arrayBuffer.pipe(
          HttpIncomingMessage.withMaxBodySize(Option.some(MAX_REQUEST_BYTES)),
          Effect.mapError(() =>
            new GatewayFailure({ status: 400, kind: "invalid_request", message: "could not read the request body (at most 32 MiB)" })
          )
        )
        const queryAt = request.url.indexOf("?")
        return yield* gateway.forward({
          format,
          query: queryAt === -1 ? "" : request.url.slice(queryAt),
          body: new Uint8Array(body),
          headers: request.headers,
          key: caller.key,
          startedAt
        })
      }).pipe(Effect.catchTag("GatewayFailure", (failure) => Effect.succeed(failureResponse(format, failure))))
  })

const routeFor = (route: GatewayRoute, handler: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse>) =>
  HttpLayerRouter.route(route.method, route.path as `/${string}`, handler)

/** Every gateway route, each with the rule GATEWAY_ROUTES declares for it. */
export const GatewayRoutes = HttpLayerRouter.addAll(
  Effect.gen(function*() {
    const models = yield* modelsHandler
    const inference = yield* Effect.forEach(INFERENCE_ROUTES, (route) =>
      Effect.map(inferenceHandler(route.format), (handler) => routeFor(route, handler)))
    return [routeFor(MODELS_ROUTE, models), ...inference]
  })
)

/**
 * Gateway: forwards one inference request to the provider its model names
 * and streams the answer back.
 *
 * - `model` is `provider/upstream-model`; only that field of the body is
 *   rewritten (to the upstream id). The provider's API key replaces the
 *   client's credential; a few content headers and the query string pass
 *   through (upstream.ts).
 * - The provider must speak the endpoint's format; otherwise a 400 says which
 *   endpoint to use (translating formats is not done yet).
 * - A key restricted by model globs gets 403 for other models.
 * - The answer's bytes are streamed on as they arrive (SSE or not): nothing is
 *   buffered, and a client that goes away interrupts the response stream,
 *   which aborts the upstream request.
 * - Provider errors keep their status and message (401/403 from the provider
 *   become 502: they mean the provider refused Tether's key, not the
 *   client's); an unreachable provider is a 502.
 * - Every request that passed key authentication is recorded in the UsageLog
 *   (status, tokens read from the stream by a UsageMeter, latency, time to
 *   first byte); 499 when the client left first.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { endpointFor, upstreamPathFor } from "../../domain/gateway-routes.js"
import { modelAllowed } from "../../domain/model-glob.js"
import type { ProviderFormat } from "../../domain/provider.js"
import { describeTransport } from "../providers/discovery.js"
import { ProviderRegistry } from "../providers/ProviderRegistry.js"
import { authHeaders, passThroughHeaders, upstreamUrl } from "../providers/upstream.js"
import { UsageLog } from "../usage/UsageLog.js"
import type { VerifiedKey } from "./InferenceKeys.js"
import { meterFor } from "./usage-meter.js"
import { failureResponse, GatewayFailure, kindForStatus, upstreamMessage } from "./wire-errors.js"

/** Status recorded for a request whose client disconnected before the answer ended. */
export const CLIENT_CLOSED = 499

/** Longer `model` values are refused (they end up in usage rows and messages). */
export const MAX_MODEL_ID_LENGTH = 256

/** Bodies larger than this are refused (413) before anything is sent upstream. */
export const MAX_REQUEST_BYTES = 32 << 20

export interface ForwardRequest {
  readonly format: ProviderFormat
  /** The client's query string, with its `?` ("" when none); passed on as is (e.g. `?beta=true`). */
  readonly query: string
  readonly body: Uint8Array
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly key: VerifiedKey
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number
}

/** Provider response headers the client gets too. */
const RESPONSE_HEADERS = /^(x-request-id|request-id|retry-after|openai-processing-ms|x-ratelimit-.*|anthropic-ratelimit-.*)$/

const invalid = (message: string) => new GatewayFailure({ status: 400, kind: "invalid_request", message })

interface Target {
  readonly model: string
  readonly providerName: string
  readonly upstreamModel: string
  readonly payload: Record<string, unknown>
}

/** The requested model and the body, checked. */
const parseTarget = (body: Uint8Array): Effect.Effect<Target, GatewayFailure> =>
  Effect.suspend(() => {
    let payload: unknown
    try {
      payload = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"))
    } catch {
      return Effect.fail(invalid("the request body is not valid JSON"))
    }
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
      return Effect.fail(invalid("the request body must be a JSON object"))
    }
    const model = (payload as Record<string, unknown>)["model"]
    if (typeof model !== "string" || model.trim() === "") {
      return Effect.fail(invalid("the request needs \"model\": \"provider/model\" (see GET /v1/models)"))
    }
    if (model.length > MAX_MODEL_ID_LENGTH) {
      return Effect.fail(invalid(`"model" is longer than ${MAX_MODEL_ID_LENGTH} characters`))
    }
    const slash = model.indexOf("/")
    if (slash <= 0 || slash === model.length - 1) {
      return Effect.fail(
        invalid(`model ${JSON.stringify(model)} must be "provider/model", e.g. "openai/gpt-4o" (see GET /v1/models)`)
      )
    }
    return Effect.succeed({
      model,
      providerName: model.slice(0, slash),
      upstreamModel: model.slice(slash + 1),
      payload: payload as Record<string, unknown>
    })
  })

export class Gateway extends Effect.Service<Gateway>()("tether/Gateway", {
  effect: Effect.gen(function*() {
    const providers = yield* ProviderRegistry
    const usage = yield* UsageLog
    const client = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerPropagation(false))

    const record = (
      request: ForwardRequest,
      model: string,
      outcome: {
        readonly status: number
        readonly error: string | null
        readonly firstByteAt: number | null
        readonly inputTokens?: number | null
        readonly outputTokens?: number | null
      }
    ) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const end = performance.now()
        return usage.record({
          at: now,
          keyId: request.key.row.id,
          keyPrefix: request.key.row.prefix,
          format: request.format,
          model,
          status: outcome.status,
          inputTokens: outcome.inputTokens ?? null,
          outputTokens: outcome.outputTokens ?? null,
          latencyMs: Math.max(0, Math.round(end - request.startedAt)),
          firstByteMs: outcome.firstByteAt === null ? null : Math.max(0, Math.round(outcome.firstByteAt - request.startedAt)),
          error: outcome.error === null ? null : outcome.error.slice(0, 1000)
        })
      })

    /** Checks everything that does not need the provider to answer; the upstream request to send. */
    const prepare = Effect.fn("Gateway.prepare")(function*(request: ForwardRequest, target: Target) {
      if (!modelAllowed(request.key.models, target.model)) {
        return yield* new GatewayFailure({
          status: 403,
          kind: "permission",
          message: `inference key ${request.key.row.prefix}… may not use ${target.model} ` +
            `(it is restricted to ${(request.key.models ?? []).join(", ")})`
        })
      }
      const resolved = yield* providers.resolve(target.providerName).pipe(
        Effect.catchTags({
          ProviderNotFound: () =>
            Effect.fail(
              new GatewayFailure({
                status: 404,
                kind: "not_found",
                message: `no provider named ${JSON.stringify(target.providerName)} for model ${target.model} (see GET /v1/models)`
              })
            ),
          MasterKeyUnavailable: (e) => Effect.fail(new GatewayFailure({ status: 500, kind: "internal", message: e.message })),
          SealedValueUnreadable: (e) =>
            Effect.fail(new GatewayFailure({ status: 500, kind: "internal", message: `provider ${target.providerName}: ${e.message}` }))
        })
      )
      const { row } = resolved
      if (row.format !== request.format) {
        return yield* invalid(
          `provider ${JSON.stringify(row.name)} speaks the ${row.format} format, but this endpoint takes ${request.format}; ` +
            `send this request to POST ${endpointFor(row.format)} instead (format translation is not supported yet)`
        )
      }
      if (row.models.length > 0 && !row.models.some((m) => m.id === target.upstreamModel)) {
        return yield* new GatewayFailure({
          status: 404,
          kind: "not_found",
          message: `model ${target.model} is not in the catalog of provider ${JSON.stringify(row.name)} (see GET /v1/models)`
        })
      }
      const body = JSON.stringify({ ...target.payload, model: target.upstreamModel })
      return HttpClientRequest.post(upstreamUrl(row.baseUrl, upstreamPathFor[row.format]) + request.query).pipe(
        HttpClientRequest.setHeaders({
          ...passThroughHeaders(request.headers),
          ...authHeaders(row.format, resolved.apiKey)
        }),
        HttpClientRequest.bodyText(body, "application/json")
      )
    })

    /** Sends the request; a provider error becomes a GatewayFailure with its status and message. */
    const send = (providerName: string, upstream: HttpClientRequest.HttpClientRequest) =>
      client.execute(upstream).pipe(
        Effect.catchTags({
          RequestError: (error) =>
            Effect.fail(
              new GatewayFailure({
                status: 502,
                kind: "upstream",
                message: `cannot reach provider ${JSON.stringify(providerName)} at ${upstream.url}: ${describeTransport(error.cause)}`
              })
            ),
          ResponseError: (error) =>
            Effect.fail(
              new GatewayFailure({
                status: 502,
                kind: "upstream",
                message: `provider ${JSON.stringify(providerName)} sent an unreadable answer: ${describeTransport(error.cause)}`
              })
            )
        }),
        Effect.flatMap((response) => response.status < 400 ? Effect.succeed(response) : upstreamFailure(providerName, response))
      )

    const upstreamFailure = (providerName: string, response: HttpClientResponse.HttpClientResponse) =>
      Effect.flatMap(
        Effect.orElseSucceed(Effect.timeout(response.text, "30 seconds"), () => ""),
        (text) => {
          const refusedKey = response.status === 401 || response.status === 403
          const retryAfter = response.headers["retry-after"]
          return Effect.fail(
            new GatewayFailure({
              status: refusedKey ? 502 : response.status,
              kind: refusedKey ? "upstream" : kindForStatus(response.status),
              message: `provider ${JSON.stringify(providerName)} answered HTTP ${response.status}` +
                (refusedKey ? " (it refused the API key stored for it; re-add the provider with a valid key)" : "") +
                `: ${upstreamMessage(text)}`,
              headers: retryAfter === undefined ? undefined : { "retry-after": retryAfter }
            })
          )
        }
      )

    /** The provider's answer, streamed on to the client as it arrives, metered and recorded at its end. */
    const relay = (request: ForwardRequest, model: string, response: HttpClientResponse.HttpClientResponse) => {
      const contentType = response.headers["content-type"]
      const meter = meterFor(contentType)
      let firstByteAt: number | null = null
      const body = response.stream.pipe(
        Stream.mapChunks((chunk) => {
          if (firstByteAt === null) firstByteAt = performance.now()
          for (const bytes of chunk) meter.push(bytes)
          return chunk
        }),
        Stream.ensuringWith((exit) => {
          const counts = meter.counts()
          return record(request, model, {
            inputTokens: counts.inputTokens,
            outputTokens: counts.outputTokens,
            firstByteAt,
            ...(Exit.isSuccess(exit)
              ? { status: response.status, error: counts.error }
              : Cause.isInterruptedOnly(exit.cause)
              ? { status: CLIENT_CLOSED, error: "the client disconnected before the answer ended" }
              : { status: 502, error: `the provider's answer broke off: ${describeTransport(Cause.squash(exit.cause))}` })
          })
        })
      )
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(response.headers)) {
        if (RESPONSE_HEADERS.test(name)) headers[name] = value
      }
      const isSse = contentType?.toLowerCase().includes("text/event-stream") ?? false
      if (isSse) {
        headers["cache-control"] = "no-cache"
        headers["x-accel-buffering"] = "no"
      }
      return HttpServerResponse.stream(body, {
        status: response.status,
        contentType: contentType ?? "application/octet-stream",
        headers
      })
    }

    /** Forwards one request; always answers (failures in the client's format). */
    const forward = (request: ForwardRequest): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
      let model = ""
      return Effect.gen(function*() {
        if (request.body.byteLength > MAX_REQUEST_BYTES) {
          return yield* new GatewayFailure({ status: 413, kind: "invalid_request", message: "the request body is larger than 32 MiB" })
        }
        const target = yield* parseTarget(request.body)
        model = target.model
        const upstream = yield* prepare(request, target)
        const response = yield* send(target.providerName, upstream)
        return relay(request, model, response)
      }).pipe(
        Effect.catchTag("GatewayFailure", (failure) =>
          Effect.as(
            record(request, model, { status: failure.status, error: failure.message, firstByteAt: null }),
            failureResponse(request.format, failure)
          )),
        Effect.onInterrupt(() =>
          record(request, model, { status: CLIENT_CLOSED, error: "the client disconnected before the provider answered", firstByteAt: null })
        ),
        Effect.withSpan("Gateway.forward", { attributes: { format: request.format } })
      )
    }

    return { forward } as const
  })
}) {}

/**
 * Talks to a Tether server's model gateway API for the setup commands:
 * `GET /v1/models` (any token), `GET /v1/keys` and `POST /v1/keys` (admin
 * access token). Responses are decoded with Schema; every failure is one
 * `CatalogError` with a reason the CLI maps to an exit code. Tokens travel
 * only as `Authorization: Bearer` and never appear in errors.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { CatalogModel } from "./model.js"

export class CatalogError extends Schema.TaggedError<CatalogError>()("CatalogError", {
  reason: Schema.Literal("unreachable", "refused", "not_found", "http", "bad_response"),
  message: Schema.String
}) {}

const ModelEntry = Schema.Struct({
  id: Schema.String,
  owned_by: Schema.optionalWith(Schema.String, { default: () => "" }),
  context_window: Schema.optionalWith(Schema.NullOr(Schema.Number), { default: () => null }),
  max_output_tokens: Schema.optionalWith(Schema.NullOr(Schema.Number), { default: () => null })
})
const ModelList = Schema.Struct({ data: Schema.Array(ModelEntry) })

export const InferenceKeyInfo = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  prefix: Schema.String,
  models: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.String)), { default: () => null }),
  createdAt: Schema.optional(Schema.NullOr(Schema.String)),
  expiresAt: Schema.optional(Schema.NullOr(Schema.String)),
  revokedAt: Schema.optional(Schema.NullOr(Schema.String))
})
export type InferenceKeyInfo = typeof InferenceKeyInfo.Type
const KeyList = Schema.Struct({ keys: Schema.Array(InferenceKeyInfo) })
const CreatedKey = Schema.Struct({ key: InferenceKeyInfo, secret: Schema.String })

export interface CatalogEndpoint {
  readonly server: string
  readonly token: Redacted.Redacted<string>
}

export class ModelCatalogClient extends Effect.Service<ModelCatalogClient>()("tether/ModelCatalogClient", {
  effect: Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient

    const send = <A, I>(
      endpoint: CatalogEndpoint,
      request: HttpClientRequest.HttpClientRequest,
      schema: Schema.Schema<A, I>,
      what: string
    ): Effect.Effect<A, CatalogError> =>
      http.execute(request.pipe(
        HttpClientRequest.prependUrl(endpoint.server),
        HttpClientRequest.bearerToken(Redacted.value(endpoint.token)),
        HttpClientRequest.acceptJson
      )).pipe(
        Effect.mapError((error) =>
          new CatalogError({
            reason: "unreachable",
            message: `cannot reach the Tether server at ${endpoint.server}: ${error.message}`
          })
        ),
        Effect.flatMap((response) => {
          if (response.status === 401 || response.status === 403) {
            return response.text.pipe(
              Effect.orElseSucceed(() => ""),
              Effect.flatMap((body) =>
                Effect.fail(
                  new CatalogError({
                    reason: "refused",
                    message: `the server refused to ${what} (HTTP ${response.status}${errorText(body)})`
                  })
                )
              )
            )
          }
          if (response.status === 404) {
            return Effect.fail(
              new CatalogError({
                reason: "not_found",
                message: `the server at ${endpoint.server} has no model gateway (HTTP 404 for ${what}); is it a Tether server with the gateway enabled?`
              })
            )
          }
          if (response.status >= 300) {
            return Effect.fail(new CatalogError({ reason: "http", message: `the server answered HTTP ${response.status} when asked to ${what}` }))
          }
          return HttpClientResponse.schemaBodyJson(schema)(response).pipe(
            Effect.mapError(() =>
              new CatalogError({ reason: "bad_response", message: `the server sent a response this CLI cannot read when asked to ${what}` })
            )
          )
        }),
        Effect.timeoutFail({
          duration: "30 seconds",
          onTimeout: () => new CatalogError({ reason: "unreachable", message: `the server at ${endpoint.server} did not answer within 30 s` })
        }),
        Effect.scoped
      )

    return {
      listModels: (endpoint: CatalogEndpoint): Effect.Effect<ReadonlyArray<CatalogModel>, CatalogError> =>
        send(endpoint, HttpClientRequest.get("/v1/models"), ModelList, "list models").pipe(
          Effect.map((list) =>
            list.data.map((m) => ({
              id: m.id,
              ownedBy: m.owned_by,
              contextWindow: m.context_window,
              maxOutputTokens: m.max_output_tokens
            }))
          )
        ),
      listKeys: (endpoint: CatalogEndpoint): Effect.Effect<ReadonlyArray<InferenceKeyInfo>, CatalogError> =>
        send(endpoint, HttpClientRequest.get("/v1/keys"), KeyList, "list inference keys").pipe(Effect.map((l) => l.keys)),
      createKey: (
        endpoint: CatalogEndpoint,
        body: { readonly name: string; readonly models?: ReadonlyArray<string> }
      ): Effect.Effect<{ readonly key: InferenceKeyInfo; readonly secret: Redacted.Redacted<string> }, CatalogError> =>
        HttpClientRequest.post("/v1/keys").pipe(
          HttpClientRequest.bodyJson(body),
          Effect.orDie,
          Effect.flatMap((request) => send(endpoint, request, CreatedKey, "create an inference key")),
          Effect.map((created) => ({ key: created.key, secret: Redacted.make(created.secret) }))
        )
    } as const
  }),
  dependencies: [FetchHttpClient.layer]
}) {}

const errorText = (body: string): string => {
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === "object" && parsed !== null) {
      const record = parsed as Record<string, unknown>
      const text = typeof record["error"] === "string"
        ? record["error"]
        : typeof record["message"] === "string"
        ? record["message"]
        : undefined
      if (text !== undefined) return `: ${text.slice(0, 200)}`
    }
  } catch {
    // not JSON
  }
  return ""
}

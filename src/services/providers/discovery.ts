/**
 * Model discovery: asks a provider's own `GET {baseUrl}/models` and reads the
 * catalog from the answer. Understands the OpenAI list shape
 * (`{data: [{id, …}]}`) and Anthropic's (`{data: [{id, type: "model"}], has_more}`),
 * and picks up the context window and output limit under the names common
 * providers use for them (`context_window`, `context_length`,
 * `max_input_tokens`; `max_output_tokens`, `max_completion_tokens`,
 * `max_tokens`).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import { ProviderModel, type ProviderFormat } from "../../domain/provider.js"
import { ProviderUnreachable } from "../../domain/provider.js"
import { authHeaders, upstreamUrl } from "./upstream.js"

const positiveInt = (value: unknown): number | null =>
  typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : null

const firstInt = (record: Record<string, unknown>, names: ReadonlyArray<string>): number | null => {
  for (const name of names) {
    const value = positiveInt(record[name])
    if (value !== null) return value
  }
  return null
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The models in a provider's list answer; undefined when it is not a list answer. */
export const parseModelList = (body: unknown): ReadonlyArray<ProviderModel> | undefined => {
  const data = isRecord(body) ? body["data"] : Array.isArray(body) ? body : undefined
  if (!Array.isArray(data)) return undefined
  const models: Array<ProviderModel> = []
  const seen = new Set<string>()
  for (const item of data) {
    if (!isRecord(item) || typeof item["id"] !== "string" || !/^[^\s]{1,200}$/.test(item["id"])) continue
    if (seen.has(item["id"])) continue
    seen.add(item["id"])
    const topProvider = isRecord(item["top_provider"]) ? item["top_provider"] : {}
    models.push(
      new ProviderModel({
        id: item["id"],
        contextWindow: firstInt(item, ["context_window", "context_length", "max_input_tokens", "max_context_length"]) ??
          firstInt(topProvider, ["context_length"]),
        maxOutputTokens: firstInt(item, ["max_output_tokens", "max_completion_tokens", "max_tokens"]) ??
          firstInt(topProvider, ["max_completion_tokens"])
      })
    )
  }
  return models
}

export const discoverModels = Effect.fn("discoverModels")(function*(
  provider: { readonly name: string; readonly baseUrl: string; readonly format: ProviderFormat },
  apiKey: Redacted.Redacted<string> | null
): Effect.fn.Return<ReadonlyArray<ProviderModel>, ProviderUnreachable, HttpClient.HttpClient> {
  const client = yield* HttpClient.HttpClient
  const url = upstreamUrl(provider.baseUrl, provider.format === "anthropic" ? "/models?limit=1000" : "/models")
  const unreachable = (what: string) =>
    new ProviderUnreachable({ name: provider.name, error: `model discovery at ${url} failed: ${what}` })
  const response = yield* client.execute(
    HttpClientRequest.get(url).pipe(HttpClientRequest.setHeaders({ accept: "application/json", ...authHeaders(provider.format, apiKey) }))
  ).pipe(
    Effect.timeout("15 seconds"),
    Effect.catchTags({
      RequestError: (error) => Effect.fail(unreachable(describeTransport(error.cause))),
      ResponseError: (error) => Effect.fail(unreachable(describeTransport(error.cause))),
      TimeoutException: () => Effect.fail(unreachable("no answer within 15 s"))
    })
  )
  const text = yield* response.text.pipe(Effect.catchAll(() => Effect.succeed("")))
  if (response.status !== 200) {
    return yield* unreachable(`HTTP ${response.status}${text === "" ? "" : `: ${text.slice(0, 300)}`}`)
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return yield* unreachable("the answer is not JSON")
  }
  const models = parseModelList(body)
  if (models === undefined) return yield* unreachable("the answer is not a model list ({\"data\": [...]})")
  return models
})

/** ECONNREFUSED, ENOTFOUND …, or the message. */
export const describeTransport = (cause: unknown): string => {
  let current: unknown = cause
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    const record = current as { code?: unknown; message?: unknown; cause?: unknown }
    if (typeof record.code === "string") return record.code
    if (record.cause === undefined) return typeof record.message === "string" ? record.message : String(current)
    current = record.cause
  }
  return String(current)
}

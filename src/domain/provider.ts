/**
 * Model providers as the API shows them: an upstream base URL, the wire
 * format it speaks and its model catalog. The provider's API key is accepted
 * on creation only; no response ever carries it (`hasApiKey` says whether
 * one is stored).
 *
 * Base URLs include the API version path (`https://api.openai.com/v1`); an
 * origin without a path gets `/v1`. The gateway appends `/chat/completions`,
 * `/responses`, `/messages` or `/models` to it.
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { allProviderFormats } from "./provider-format.js"

/** The wire formats the gateway forwards. Translation between them is not done (yet). */
export const ProviderFormat = Schema.Literal(...allProviderFormats)
export type ProviderFormat = typeof ProviderFormat.Type
export { allProviderFormats }

/** Lower-case letters, digits, `.`, `_` and `-`; no `/` (it separates provider and model in ids). */
export const ProviderName = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9._-]{0,62}$/),
  Schema.annotations({
    description: "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit (at most 63)",
    message: () => "a provider name is lower-case letters, digits, '.', '_' or '-' (at most 63, no '/')"
  })
)

/** An upstream model id: printable, no whitespace. */
export const UpstreamModelId = Schema.String.pipe(
  Schema.pattern(/^[^\s]{1,200}$/),
  Schema.annotations({ message: () => "a model id is 1–200 characters without spaces" })
)

export class ProviderModel extends Schema.Class<ProviderModel>("ProviderModel")({
  /** The id the provider knows it by (without the `provider/` prefix). */
  id: UpstreamModelId,
  contextWindow: Schema.NullOr(Schema.Int.pipe(Schema.positive())),
  maxOutputTokens: Schema.NullOr(Schema.Int.pipe(Schema.positive()))
}) {}

export class ProviderInfo extends Schema.Class<ProviderInfo>("ProviderInfo")({
  name: Schema.String,
  baseUrl: Schema.String,
  format: ProviderFormat,
  /** Whether an API key is stored (encrypted). The key itself is never returned. */
  hasApiKey: Schema.Boolean,
  /** Empty means "not listed": any model id is forwarded. */
  models: Schema.Array(ProviderModel),
  createdAt: Schema.DateTimeUtc,
  createdBy: Schema.String
}) {}

/** A model in a create request: its id, or the id with what is known about it. */
export const ModelSpec = Schema.Union(
  UpstreamModelId,
  Schema.Struct({
    id: UpstreamModelId,
    contextWindow: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive()))),
    maxOutputTokens: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive())))
  })
)
export type ModelSpec = typeof ModelSpec.Type

export class CreateProviderRequest extends Schema.Class<CreateProviderRequest>("CreateProviderRequest")({
  name: ProviderName,
  baseUrl: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(2000)),
  format: Schema.optionalWith(ProviderFormat, { default: () => "openai-chat" as const }),
  /** Stored encrypted; never returned. */
  apiKey: Schema.optional(Schema.Redacted(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(8192)))),
  models: Schema.optional(Schema.Array(ModelSpec).pipe(Schema.maxItems(2000))),
  /** Ask the provider's own models endpoint for the catalog (ignored when `models` is given). */
  discover: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}

export class ProviderNotFound extends Schema.TaggedError<ProviderNotFound>()(
  "ProviderNotFound",
  { error: Schema.String, name: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class ProviderExists extends Schema.TaggedError<ProviderExists>()(
  "ProviderExists",
  { error: Schema.String, name: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** 502: asking the provider (model discovery) failed; says how. */
export class ProviderUnreachable extends Schema.TaggedError<ProviderUnreachable>()(
  "ProviderUnreachable",
  { error: Schema.String, name: Schema.String },
  HttpApiSchema.annotations({ status: 502 })
) {}

/** 500: the server cannot seal or open provider keys (its master key is missing, unreadable or unsafe). */
export class MasterKeyProblem extends Schema.TaggedError<MasterKeyProblem>()(
  "MasterKeyProblem",
  { error: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

/**
 * A base URL as the gateway uses it: http(s) only, no credentials, query or
 * fragment, no trailing slash, `/v1` when only an origin was given.
 */
export const normalizeBaseUrl = (input: string): Either.Either<string, string> => {
  let url: URL
  try {
    url = new URL(input.trim())
  } catch {
    return Either.left(`not a URL: ${JSON.stringify(input)} (expected e.g. https://api.openai.com/v1)`)
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(`the base URL must be http:// or https://, not ${url.protocol}`)
  }
  if (url.username !== "" || url.password !== "") {
    return Either.left("the base URL must not contain credentials; pass the API key separately")
  }
  if (url.search !== "" || url.hash !== "") return Either.left("the base URL must not have a query or fragment")
  const path = url.pathname.replace(/\/+$/, "")
  return Either.right(`${url.origin}${path === "" ? "/v1" : path}`)
}

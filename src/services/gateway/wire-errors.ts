/**
 * Gateway failures and how a client of each format expects to see them:
 * OpenAI's `{"error": {"message", "type", "param", "code"}}` or Anthropic's
 * `{"type": "error", "error": {"type", "message"}}`, with the HTTP status.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Data from "effect/Data"
import type { ProviderFormat } from "../../domain/provider.js"

export type FailureKind = "invalid_request" | "authentication" | "permission" | "not_found" | "rate_limit" | "upstream" | "internal"

/** A request the gateway refuses or could not complete; rendered in the client's format. */
export class GatewayFailure extends Data.TaggedError("GatewayFailure")<{
  readonly status: number
  readonly kind: FailureKind
  readonly message: string
  /** Extra response headers (e.g. Retry-After from the provider). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}> {}

const openAiType: Record<FailureKind, string> = {
  invalid_request: "invalid_request_error",
  authentication: "authentication_error",
  permission: "permission_error",
  not_found: "not_found_error",
  rate_limit: "rate_limit_error",
  upstream: "upstream_error",
  internal: "server_error"
}

const anthropicType: Record<FailureKind, string> = {
  invalid_request: "invalid_request_error",
  authentication: "authentication_error",
  permission: "permission_error",
  not_found: "not_found_error",
  rate_limit: "rate_limit_error",
  upstream: "api_error",
  internal: "api_error"
}

/** The body a client of `format` understands. `null` format (e.g. /v1/models) uses OpenAI's. */
export const failureBody = (format: ProviderFormat | null, failure: GatewayFailure): unknown =>
  format === "anthropic"
    ? { type: "error", error: { type: anthropicType[failure.kind], message: failure.message } }
    : { error: { message: failure.message, type: openAiType[failure.kind], param: null, code: null } }

export const failureResponse = (format: ProviderFormat | null, failure: GatewayFailure): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(failureBody(format, failure), { status: failure.status, headers: failure.headers ?? {} })

/** The kind a status stands for, for errors passed on from a provider. */
export const kindForStatus = (status: number): FailureKind =>
  status === 400 || status === 413 || status === 422
    ? "invalid_request"
    : status === 404
    ? "not_found"
    : status === 429
    ? "rate_limit"
    : status >= 500
    ? "upstream"
    : "invalid_request"

/** The human message inside a provider's error body (either format), else its text. */
export const upstreamMessage = (text: string): string => {
  try {
    const body: unknown = JSON.parse(text)
    if (typeof body === "object" && body !== null) {
      const error = (body as { error?: unknown }).error
      if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string") {
        return (error as { message: string }).message
      }
      if (typeof error === "string") return error
      const message = (body as { message?: unknown }).message
      if (typeof message === "string") return message
    }
  } catch {
    // not JSON: use the text
  }
  const trimmed = text.trim()
  return trimmed === "" ? "(empty body)" : trimmed.slice(0, 500)
}

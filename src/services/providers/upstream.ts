/**
 * How to address a provider: the URL of an API path under its base URL and
 * the headers that carry its API key in its own format (OpenAI:
 * `Authorization: Bearer`; Anthropic: `x-api-key` and `anthropic-version`).
 * Pure code.
 */
import * as Redacted from "effect/Redacted"
import type { ProviderFormat } from "../../domain/provider.js"

/** Sent to Anthropic-format providers when the client did not choose a version. */
export const DEFAULT_ANTHROPIC_VERSION = "2023-06-01"

export const upstreamUrl = (baseUrl: string, path: string): string => `${baseUrl}${path}`

/** Headers that authenticate to the provider (none without a key, except Anthropic's version). */
export const authHeaders = (
  format: ProviderFormat,
  apiKey: Redacted.Redacted<string> | null
): Record<string, string> => {
  if (format === "anthropic") {
    return apiKey === null
      ? { "anthropic-version": DEFAULT_ANTHROPIC_VERSION }
      : { "x-api-key": Redacted.value(apiKey), "anthropic-version": DEFAULT_ANTHROPIC_VERSION }
  }
  return apiKey === null ? {} : { authorization: `Bearer ${Redacted.value(apiKey)}` }
}

/**
 * Client request headers passed on to the provider: content negotiation and
 * the provider-specific feature headers. Credentials, hop-by-hop and
 * forwarding headers never are.
 */
const PASSED_THROUGH: ReadonlySet<string> = new Set([
  "accept",
  "anthropic-version",
  "anthropic-beta",
  "openai-beta",
  "openai-organization",
  "openai-project",
  "user-agent"
])

export const passThroughHeaders = (headers: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name of PASSED_THROUGH) {
    const value = headers[name]
    if (value !== undefined) out[name] = value
  }
  return out
}

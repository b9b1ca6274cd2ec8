/**
 * The inference routes of the model gateway and who may call them. They are
 * plain router routes (not part of the HttpApi: they stream the provider's
 * bytes through untouched), so their access rules are declared here, and the
 * server registers exactly these routes from this table.
 *
 * - `inference`: an inference key (`tsk_…`) only. Access tokens are refused.
 * - `inferenceOrRead`: an inference key, or an access token (`tat_…`) with at
 *   least read scope (so `tether models list` works with the CLI's context).
 *
 * Conversely, inference keys are never accepted by the HttpApi routes: its
 * Authorization middleware verifies access tokens only.
 */
import type { ProviderFormat } from "./provider.js"

export type GatewayAccess = "inference" | "inferenceOrRead"

export interface GatewayRoute {
  readonly method: "GET" | "POST"
  readonly path: string
  readonly access: GatewayAccess
  /** For inference routes: the wire format the client speaks there. */
  readonly format: ProviderFormat | null
}

export const MODELS_ROUTE: GatewayRoute = { method: "GET", path: "/v1/models", access: "inferenceOrRead", format: null }

export const INFERENCE_ROUTES: ReadonlyArray<GatewayRoute & { readonly format: ProviderFormat }> = [
  { method: "POST", path: "/v1/chat/completions", access: "inference", format: "openai-chat" },
  { method: "POST", path: "/v1/responses", access: "inference", format: "openai-responses" },
  { method: "POST", path: "/v1/messages", access: "inference", format: "anthropic" }
]

export const GATEWAY_ROUTES: ReadonlyArray<GatewayRoute> = [MODELS_ROUTE, ...INFERENCE_ROUTES]

/** The path a format's requests go to, relative to a provider's base URL. */
export const upstreamPathFor: Record<ProviderFormat, string> = {
  "openai-chat": "/chat/completions",
  "openai-responses": "/responses",
  anthropic: "/messages"
}

/** The gateway endpoint that speaks a format. */
export const endpointFor = (format: ProviderFormat): string =>
  INFERENCE_ROUTES.find((r) => r.format === format)?.path ?? "/v1/chat/completions"

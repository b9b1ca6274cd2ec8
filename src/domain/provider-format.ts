/**
 * The wire formats the gateway forwards, as plain values (no Schema), so the
 * CLI can offer them as choices without loading the API's schemas.
 */
export const allProviderFormats = ["openai-chat", "openai-responses", "anthropic"] as const
export type ProviderFormatName = (typeof allProviderFormats)[number]

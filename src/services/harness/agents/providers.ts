/**
 * Where the agent SDKs get their credentials and endpoint on this host, found
 * the way each vendor's own CLI finds them, for readiness reports and for the
 * environment of the agent processes:
 *
 * - Anthropic (claude-sdk, pi): `ANTHROPIC_API_KEY` or `ANTHROPIC_AUTH_TOKEN`,
 *   else Claude Code's login (`$CLAUDE_CONFIG_DIR/.credentials.json`, default
 *   `~/.claude/.credentials.json`; on macOS the login lives in the keychain,
 *   which is assumed when `~/.claude.json` exists). Endpoint:
 *   `ANTHROPIC_BASE_URL`, default `https://api.anthropic.com`.
 * - OpenAI (codex, openai-agents, pi): `OPENAI_API_KEY` (Codex also reads
 *   `CODEX_API_KEY`), else Codex's login (`$CODEX_HOME/auth.json`, default
 *   `~/.codex/auth.json`; codex only). Endpoint: `OPENAI_BASE_URL`, default
 *   `https://api.openai.com/v1`.
 * - pi's own logins: `$PI_CODING_AGENT_DIR/auth.json` (default `~/.pi/agent/auth.json`).
 *
 * Values come through Effect `Config` (the environment by default), so tests
 * can supply their own provider. Secrets are never part of a detail string.
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { existsSync, readFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"

export const DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
export const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"

const optionalString = (name: string) => Config.option(Config.nonEmptyString(name))
const optionalSecret = (name: string) => Config.option(Config.redacted(Config.nonEmptyString(name)))

export interface ProviderSetup {
  /** The base URL requests will go to. */
  readonly baseUrl: string
  /** Whether the base URL came from the environment (or the session's `--base-url`) rather than the default. */
  readonly customBaseUrl: boolean
  /** Where the credential comes from (`ANTHROPIC_API_KEY`, `~/.codex/auth.json` …), or null when none was found. */
  readonly credentialSource: string | null
  /** An API key from the environment, when there is one (passed to SDKs that take it as an option). */
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
}

const fileSource = (path: string): string | null => (existsSync(path) ? path.replace(homedir(), "~") : null)

/** Anthropic's endpoint and credentials as Claude Code would find them. */
export const anthropicSetup: Effect.Effect<ProviderSetup> = Effect.gen(function*() {
  const apiKey = yield* optionalSecret("ANTHROPIC_API_KEY")
  const authToken = yield* optionalSecret("ANTHROPIC_AUTH_TOKEN")
  const baseUrl = yield* optionalString("ANTHROPIC_BASE_URL")
  const configDir = yield* optionalString("CLAUDE_CONFIG_DIR")
  const credentialsFile = join(Option.getOrElse(configDir, () => join(homedir(), ".claude")), ".credentials.json")
  const credentialSource = Option.isSome(apiKey)
    ? "ANTHROPIC_API_KEY"
    : Option.isSome(authToken)
    ? "ANTHROPIC_AUTH_TOKEN"
    : fileSource(credentialsFile) ??
      (process.platform === "darwin" && Option.isNone(configDir) ? fileSource(join(homedir(), ".claude.json")) : null)
  return {
    baseUrl: Option.getOrElse(baseUrl, () => DEFAULT_ANTHROPIC_BASE_URL),
    customBaseUrl: Option.isSome(baseUrl),
    credentialSource,
    apiKey
  }
}).pipe(Effect.orDie)

/** OpenAI's endpoint and credentials; `codexLogin` also accepts Codex's own login file. */
export const openAiSetup = (options: { readonly codexLogin: boolean }): Effect.Effect<ProviderSetup> =>
  Effect.gen(function*() {
    const apiKey = yield* optionalSecret("OPENAI_API_KEY")
    const codexKey = options.codexLogin ? yield* optionalSecret("CODEX_API_KEY") : Option.none()
    const baseUrl = yield* optionalString("OPENAI_BASE_URL")
    const codexHome = yield* optionalString("CODEX_HOME")
    const authFile = join(Option.getOrElse(codexHome, () => join(homedir(), ".codex")), "auth.json")
    const credentialSource = Option.isSome(apiKey)
      ? "OPENAI_API_KEY"
      : Option.isSome(codexKey)
      ? "CODEX_API_KEY"
      : options.codexLogin
      ? fileSource(authFile)
      : null
    return {
      baseUrl: Option.getOrElse(baseUrl, () => DEFAULT_OPENAI_BASE_URL),
      customBaseUrl: Option.isSome(baseUrl),
      credentialSource,
      apiKey: Option.orElse(apiKey, () => codexKey)
    }
  }).pipe(Effect.orDie)

/** pi's own login file, when it holds at least one login (pi creates it empty). */
export const piLoginFile: Effect.Effect<string | null> = Effect.gen(function*() {
  const dir = yield* optionalString("PI_CODING_AGENT_DIR")
  const path = join(Option.getOrElse(dir, () => join(homedir(), ".pi", "agent")), "auth.json")
  try {
    const logins: unknown = JSON.parse(readFileSync(path, "utf8"))
    return typeof logins === "object" && logins !== null && Object.keys(logins).length > 0 ? fileSource(path) : null
  } catch {
    return null
  }
}).pipe(Effect.orDie)

/** Applies a session's `--base-url` over what the environment says. */
export const withBaseUrl = (setup: ProviderSetup, override: string | undefined): ProviderSetup =>
  override === undefined ? setup : { ...setup, baseUrl: override, customBaseUrl: true }

/** "credentials: X; endpoint: Y" for readiness details (never a secret). */
export const describeSetup = (setup: ProviderSetup): string =>
  `credentials: ${setup.credentialSource ?? "none found"}; endpoint: ${setup.baseUrl}`

/** The process environment as a plain record (for agent processes), with `overrides` applied. */
export const childEnvironment = (overrides: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  return env
}

export const secretValue = (secret: Option.Option<Redacted.Redacted<string>>): string | undefined =>
  Option.match(secret, { onNone: () => undefined, onSome: Redacted.value })

/**
 * Which server a remote command talks to, and with which token.
 *
 * Every remote command spreads `...targetOptions` into its options and calls
 * `resolveTarget`. Precedence:
 *   - context: `--context`, else `TETHER_CONTEXT`, else the file's current context;
 *   - server:  `--server` / `TETHER_SERVER`, else the context's server;
 *   - token:   `--token` / `TETHER_TOKEN`, else the context's token.
 * Tokens are checked offline (prefix, length, checksum) before anything is sent.
 */
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { ContextNotFound, InvalidContextName } from "../domain/context-file.js"
import type { Scope } from "../domain/scope.js"
import { type InvalidServerAddress, parseServerAddress } from "../domain/server-url.js"
import { parseToken } from "../domain/token-format.js"
import { ContextRepo, type ContextFileError } from "../services/contexts/ContextRepo.js"
import { InvalidAccessToken } from "./errors.js"

export const targetOptions = {
  context: Options.text("context").pipe(
    Options.withDescription("Saved context to use instead of the current one (env: TETHER_CONTEXT)"),
    Options.withFallbackConfig(Config.string("TETHER_CONTEXT")),
    Options.optional
  ),
  server: Options.text("server").pipe(
    Options.withDescription(
      "Server to talk to, overriding the context's: a host (port 7337), host:port or http(s):// URL (env: TETHER_SERVER)"
    ),
    Options.withFallbackConfig(Config.string("TETHER_SERVER")),
    Options.optional
  ),
  token: Options.redacted("token").pipe(
    Options.withDescription(
      "Access token (tat_…), overriding the context's (env: TETHER_TOKEN; prefer it: arguments are visible to other users)"
    ),
    Options.withFallbackConfig(Config.redacted("TETHER_TOKEN")),
    Options.optional
  )
} as const

/** What `targetOptions` parse to. */
export interface TargetOptions {
  readonly context: Option.Option<string>
  readonly server: Option.Option<string>
  readonly token: Option.Option<Redacted.Redacted<string>>
}

export interface Target {
  /** The context chosen (its server or token may have been overridden). */
  readonly contextName: string
  /** Normalised base URL, without trailing slash. */
  readonly server: string
  readonly token: Option.Option<Redacted.Redacted<string>>
  /** The scope saved with the context's token; none when unknown or the token was overridden. */
  readonly scope: Option.Option<Scope>
}

export type ResolveTargetError =
  | ContextNotFound
  | InvalidContextName
  | ContextFileError
  | InvalidServerAddress
  | InvalidAccessToken

const nonBlank = <A extends string | Redacted.Redacted<string>>(value: Option.Option<A>): Option.Option<A> =>
  Option.filter(value, (v) => (typeof v === "string" ? v : Redacted.value(v)).trim() !== "")

const checkToken = (token: string, source: string): Effect.Effect<Redacted.Redacted<string>, InvalidAccessToken> =>
  Either.match(parseToken(token, "access"), {
    onLeft: (e) => Effect.fail(new InvalidAccessToken({ source, reason: e.reason, error: e.message })),
    onRight: (parsed) => Effect.succeed(Redacted.make(parsed.token))
  })

export const resolveTarget: (options: TargetOptions) => Effect.Effect<Target, ResolveTargetError, ContextRepo> = Effect
  .fn("resolveTarget")(function*(options: TargetOptions) {
    const repo = yield* ContextRepo
    const chosen = yield* Option.match(nonBlank(options.context), {
      onNone: () => repo.current,
      onSome: (name) => repo.get(name.trim())
    })
    const server = yield* parseServerAddress(Option.getOrElse(nonBlank(options.server), () => chosen.context.server))

    const override = nonBlank(options.token)
    if (Option.isSome(override)) {
      const token = yield* checkToken(Redacted.value(override.value), "--token (or TETHER_TOKEN)")
      return { contextName: chosen.name, server, token: Option.some(token), scope: Option.none() }
    }
    const saved = chosen.context.accessToken
    const token = saved === undefined
      ? Option.none()
      : Option.some(yield* checkToken(saved, `context "${chosen.name}" in ${repo.path}`))
    return { contextName: chosen.name, server, token, scope: Option.fromNullable(chosen.context.scope) }
  })

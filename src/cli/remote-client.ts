/**
 * Talking to a Tether server from the CLI: a typed HttpApiClient for the
 * target, and the translation of every failure into one clear line.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import { TetherApi } from "../domain/api/index.js"
import { CliError } from "./errors.js"

export interface RemoteEndpoint {
  readonly server: string
  readonly token: Option.Option<Redacted.Redacted<string>>
}

const makeClient = (endpoint: RemoteEndpoint) =>
  HttpApiClient.make(TetherApi, {
    baseUrl: endpoint.server,
    transformClient: (client) =>
      Option.match(endpoint.token, {
        onNone: () => client,
        onSome: (token) => HttpClient.mapRequest(client, HttpClientRequest.bearerToken(Redacted.value(token)))
      })
  })

export type TetherClient = Effect.Effect.Success<ReturnType<typeof makeClient>>

/** A short description of why a connection failed (ECONNREFUSED, ENOTFOUND …). */
const transportCause = (error: unknown): string => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && Predicate.hasProperty(current, "cause"); depth++) {
    const next: unknown = current.cause
    if (Predicate.hasProperty(next, "code") && typeof next.code === "string") {
      return Predicate.hasProperty(next, "message") && typeof next.message === "string" ? next.message : next.code
    }
    current = next
  }
  return Predicate.hasProperty(current, "message") && typeof current.message === "string" ? current.message : String(current)
}

const hintFor = (tag: string, reason: unknown): string => {
  if (tag === "Unauthorized") {
    switch (reason) {
      case "missing":
        return " (run `tether connect HOST`, or pass --token / TETHER_TOKEN)"
      case "expired":
      case "revoked":
      case "unknown":
        return " (get a new token with `tether connect HOST` or `tether tokens create`)"
    }
  }
  if (tag === "Forbidden") return " (ask an admin for a token with that scope)"
  return ""
}

/** Answers that mean "this credential or scope is refused here" (HTTP 401/403): exit code 4. */
const refusedCredential: ReadonlySet<string> = new Set(["Unauthorized", "InvalidPassword", "Forbidden", "LoopbackOnly"])

/** Every error a remote call can fail with, as one line and an exit code. */
export const toCliError = (server: string) => (error: unknown): CliError => {
  if (Predicate.isTagged(error, "RequestError") && Predicate.hasProperty(error, "reason")) {
    return new CliError({
      message: `cannot reach the Tether server at ${server}: ${transportCause(error)}`,
      exitCode: 3
    })
  }
  if (Predicate.isTagged(error, "ResponseError") && Predicate.hasProperty(error, "response")) {
    const status = Predicate.hasProperty(error.response, "status") ? String(error.response.status) : "?"
    return new CliError({ message: `the server at ${server} answered HTTP ${status}, which this CLI does not understand (is it a Tether server?)` })
  }
  if (Predicate.isTagged(error, "ParseError")) {
    return new CliError({ message: `the server at ${server} sent a response this CLI cannot read (is it a Tether server of a compatible version?)` })
  }
  if (Predicate.isTagged(error, "HttpApiDecodeError") && Predicate.hasProperty(error, "message")) {
    return new CliError({ message: `the server rejected the request: ${String(error.message)}`, exitCode: 2 })
  }
  if (Predicate.hasProperty(error, "_tag") && Predicate.hasProperty(error, "error") && typeof error.error === "string") {
    const tag = String(error._tag)
    const reason = Predicate.hasProperty(error, "reason") ? error.reason : undefined
    return new CliError({ message: error.error + hintFor(tag, reason), exitCode: refusedCredential.has(tag) ? 4 : 1 })
  }
  if (error instanceof CliError) return error
  return new CliError({ message: `unexpected error talking to ${server}: ${String(error)}` })
}

/**
 * Runs `use` with a client for the endpoint; fails only with a CliError.
 * The token travels as `Authorization: Bearer` and never appears in output.
 */
export const withClient = <A, E>(
  endpoint: RemoteEndpoint,
  use: (client: TetherClient) => Effect.Effect<A, E>
): Effect.Effect<A, CliError> =>
  makeClient(endpoint).pipe(
    Effect.flatMap(use),
    Effect.timeoutFail({
      duration: "30 seconds",
      onTimeout: () => new CliError({ message: `the server at ${endpoint.server} did not answer within 30 s`, exitCode: 3 })
    }),
    Effect.mapError(toCliError(endpoint.server)),
    Effect.provide(FetchHttpClient.layer)
  )

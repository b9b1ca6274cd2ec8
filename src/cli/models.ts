/**
 * `tether models list`: the gateway's catalog (`GET /v1/models`) as the
 * active context's token sees it. That route is outside the HttpApi (it also
 * takes inference keys), so it is called with a plain `fetch`; failures map
 * to the same lines and exit codes as every remote command.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { MODELS_ROUTE } from "../domain/gateway-routes.js"
import { CliError } from "./errors.js"
import { printJson, printTable } from "./output.js"
import { resolveTarget, type Target, targetOptions } from "./target.js"

export interface CatalogModel {
  readonly id: string
  readonly object: string
  readonly created: number
  readonly owned_by: string
  readonly context_window: number | null
  readonly max_output_tokens: number | null
}

const isCatalog = (body: unknown): body is { readonly data: ReadonlyArray<CatalogModel> } =>
  typeof body === "object" && body !== null && Array.isArray((body as { data?: unknown }).data) &&
  (body as { data: ReadonlyArray<unknown> }).data.every((m) =>
    typeof m === "object" && m !== null && typeof (m as { id?: unknown }).id === "string"
  )

const errorMessage = (body: unknown): string | undefined => {
  if (typeof body !== "object" || body === null) return undefined
  const error = (body as { error?: unknown }).error
  if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string") {
    return (error as { message: string }).message
  }
  return undefined
}

const fetchCatalog = (target: Target): Effect.Effect<ReadonlyArray<CatalogModel>, CliError> =>
  Effect.gen(function*() {
    const headers: Record<string, string> = { accept: "application/json" }
    if (Option.isSome(target.token)) headers["authorization"] = `Bearer ${Redacted.value(target.token.value)}`
    const response = yield* Effect.tryPromise({
      try: (signal) => fetch(`${target.server}${MODELS_ROUTE.path}`, { headers, signal }),
      catch: (error) => {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause
        return new CliError({
          message: `cannot reach the Tether server at ${target.server}: ${cause?.code ?? cause?.message ?? String(error)}`,
          exitCode: 3
        })
      }
    })
    const text = yield* Effect.tryPromise({
      try: () => response.text(),
      catch: () => new CliError({ message: `the server at ${target.server} broke off its answer`, exitCode: 3 })
    })
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
    if (response.status === 401 || response.status === 403) {
      return yield* new CliError({
        message: `${errorMessage(body) ?? `HTTP ${response.status}`} (run \`tether connect HOST\`, or pass --token / TETHER_TOKEN)`,
        exitCode: 4
      })
    }
    if (response.status !== 200 || !isCatalog(body)) {
      return yield* new CliError({
        message: errorMessage(body) ??
          `the server at ${target.server} answered HTTP ${response.status}, which this CLI does not understand (is it a Tether server?)`
      })
    }
    return body.data
  }).pipe(
    Effect.timeoutFail({
      duration: "30 seconds",
      onTimeout: () => new CliError({ message: `the server at ${target.server} did not answer within 30 s`, exitCode: 3 })
    })
  )

const list = Command.make("list", { ...targetOptions, json: Options.boolean("json").pipe(Options.withDescription("print JSON")) }, (opts) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(opts)
    const models = yield* fetchCatalog(target)
    if (opts.json) return yield* printJson(models)
    const limit = (n: number | null) => (n === null ? "-" : String(n))
    yield* printTable(
      [
        { header: "MODEL", get: (m: CatalogModel) => m.id },
        { header: "PROVIDER", get: (m: CatalogModel) => m.owned_by },
        { header: "CONTEXT", get: (m: CatalogModel) => limit(m.context_window) },
        { header: "MAX OUTPUT", get: (m: CatalogModel) => limit(m.max_output_tokens) }
      ],
      models
    )
  })).pipe(Command.withDescription("list the models the gateway routes (provider/model)"))

export const modelsCommand = Command.make("models").pipe(
  Command.withDescription("the model gateway's catalog"),
  Command.withSubcommands([list])
)

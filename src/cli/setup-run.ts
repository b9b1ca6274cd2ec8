/**
 * What `tether setup-<client>` and `tether configure codex` do (the commands
 * and their options are in setup.ts, which loads this module when one runs:
 * the HTTP client and the config writer stay off the CLI's start-up path).
 *
 * Flow: resolve the server and credentials (context, or `--remote` /
 * `--api-key`) → list models (`--only` filters by glob) → choose the start
 * model (`--model`, the only one left, or a prompt when the client needs
 * one) → make sure an inference key exists (`tsk_…`; offer to create one) →
 * plan with the client writer → `--dry-run` prints the diff, otherwise back
 * up and write atomically → print how to use the result.
 *
 * Secrets: a management token (`tat_…`) is only ever used to talk to the
 * server, never written. The inference key is written only for clients that
 * cannot read an environment variable, and only with `--write-key`.
 */
import * as Prompt from "@effect/cli/Prompt"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as NodeOs from "node:os"
import { parseServerAddress } from "../domain/server-url.js"
import { maskSecret, parseToken } from "../domain/token-format.js"
import { ContextRepo } from "../services/contexts/ContextRepo.js"
import { ConfigWriter, type WritePlan } from "../services/config-writer/ConfigWriter.js"
import { type CatalogEndpoint, CatalogError, ModelCatalogClient } from "../services/config-writer/ModelCatalogClient.js"
import type { CatalogModel, ClientId, ClientWriter, PathEnv, WriterInput } from "../services/config-writer/model.js"
import { TetherHome } from "../services/home/TetherHome.js"
import { CliError } from "./errors.js"
import { Stdin } from "./output.js"
import { KEY_ENV, type SetupOptions } from "./setup.js"

const PROVIDER_ID_RE = /^[a-z0-9][a-z0-9_-]{0,39}$/

// ---------------------------------------------------------------------------
// Pure helpers (exported for tests)

/** A glob (`*`, `?`) as an anchored regular expression. */
export const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.trim().replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`)

/** Models matching any of the comma-separated globs (all when none given). */
export const filterModels = (
  models: ReadonlyArray<CatalogModel>,
  only: string | undefined
): ReadonlyArray<CatalogModel> => {
  if (only === undefined || only.trim() === "") return models
  const patterns = only.split(",").filter((p) => p.trim() !== "").map(globToRegExp)
  return models.filter((m) => patterns.some((re) => re.test(m.id)))
}

interface Credentials {
  /** `tat_…`: talks to the server (lists models, creates keys); never written. */
  readonly accessToken: Option.Option<Redacted.Redacted<string>>
  /** `tsk_…`: what the client uses. */
  readonly inferenceKey: Option.Option<Redacted.Redacted<string>>
}

const usage = (message: string) => new CliError({ message, exitCode: 2 })

const catalogFailure = (error: CatalogError): CliError =>
  new CliError({
    message: error.message,
    exitCode: error.reason === "unreachable" ? 3 : error.reason === "refused" ? 4 : 1
  })

/** Classifies `--api-key` / `$TETHER_API_KEY`: a valid tsk_ or tat_, else a usage error. */
const classifyKey = (value: string, source: string): Effect.Effect<Credentials, CliError> => {
  const inference = parseToken(value, "inference")
  if (Either.isRight(inference)) {
    return Effect.succeed({ accessToken: Option.none(), inferenceKey: Option.some(Redacted.make(inference.right.token)) })
  }
  const access = parseToken(value, "access")
  if (Either.isRight(access)) {
    return Effect.succeed({ accessToken: Option.some(Redacted.make(access.right.token)), inferenceKey: Option.none() })
  }
  return Effect.fail(usage(`${source} is neither an inference key (tsk_…) nor an access token (tat_…): ${inference.left.message}`))
}

const pathEnv = Effect.gen(function*() {
  const home = yield* Config.string("HOME").pipe(Config.withDefault(NodeOs.homedir()))
  const xdg = yield* Config.string("XDG_CONFIG_HOME").pipe(Config.option)
  const codex = yield* Config.string("CODEX_HOME").pipe(Config.option)
  const tether = yield* TetherHome
  return {
    home,
    xdgConfigHome: Option.getOrUndefined(xdg),
    codexHome: Option.getOrUndefined(codex),
    tetherHome: tether.dir
  } satisfies PathEnv
}).pipe(Effect.mapError(() => usage("cannot read HOME")))

const isInteractive = Effect.flatMap(Stdin, (stdin) => stdin.isTTY)

// ---------------------------------------------------------------------------
// Steps

const resolveEndpoint = Effect.fn("setup.resolveEndpoint")(function*(opts: SetupOptions) {
  const repo = yield* ContextRepo
  const chosen = yield* Option.match(opts.context, { onNone: () => repo.current, onSome: (name) => repo.get(name.trim()) })
  const server = yield* parseServerAddress(Option.getOrElse(opts.remote, () => chosen.context.server))
  let creds: Credentials = { accessToken: Option.none(), inferenceKey: Option.none() }
  if (Option.isSome(opts.apiKey)) {
    creds = yield* classifyKey(Redacted.value(opts.apiKey.value), "--api-key")
  }
  if (Option.isNone(creds.accessToken)) {
    const fromEnv = yield* Config.string("TETHER_TOKEN").pipe(Config.option, Effect.orElseSucceed(() => Option.none<string>()))
    if (Option.isSome(fromEnv) && fromEnv.value.trim() !== "") {
      const parsed = parseToken(fromEnv.value, "access")
      if (Either.isLeft(parsed)) return yield* usage(`$TETHER_TOKEN is not a usable access token: ${parsed.left.message}`)
      creds = { ...creds, accessToken: Option.some(Redacted.make(parsed.right.token)) }
    }
  }
  // The context's token only when the server was not overridden (it belongs to that server).
  if (Option.isNone(creds.accessToken) && Option.isNone(opts.remote) && chosen.context.accessToken !== undefined) {
    const saved = parseToken(chosen.context.accessToken, "access")
    if (Either.isRight(saved)) creds = { ...creds, accessToken: Option.some(Redacted.make(saved.right.token)) }
  }
  if (Option.isNone(creds.inferenceKey)) {
    const fromEnv = yield* Config.string(KEY_ENV).pipe(Config.option, Effect.orElseSucceed(() => Option.none<string>()))
    if (Option.isSome(fromEnv) && fromEnv.value.trim() !== "") {
      const parsed = parseToken(fromEnv.value, "inference")
      if (Either.isLeft(parsed)) return yield* usage(`$${KEY_ENV} is not a usable inference key: ${parsed.left.message}`)
      creds = { ...creds, inferenceKey: Option.some(Redacted.make(parsed.right.token)) }
    }
  }
  return { server, creds }
})

const chooseModel = Effect.fn("setup.chooseModel")(function*(
  writer: ClientWriter,
  models: ReadonlyArray<CatalogModel>,
  requested: Option.Option<string>
) {
  if (Option.isSome(requested)) {
    const wanted = requested.value.trim()
    if (!models.some((m) => m.id === wanted)) {
      return yield* usage(`unknown model ${wanted}; the server offers: ${models.map((m) => m.id).join(", ")}`)
    }
    return wanted
  }
  if (models.length === 1) return models[0]?.id
  if (!writer.requiresModel) return undefined
  if (!(yield* isInteractive)) {
    return yield* usage(
      `${writer.displayName} needs a model to start with: pass --model (one of ${models.map((m) => m.id).join(", ")})`
    )
  }
  return yield* Prompt.select({
    message: `Model for ${writer.displayName}`,
    choices: models.map((m) => ({ title: m.id, value: m.id }))
  }).pipe(Effect.mapError(() => new CliError({ message: "cancelled", exitCode: 130 })))
})

/** Makes sure the user has an inference key, creating one when asked to (or after confirming). */
const ensureInferenceKey = Effect.fn("setup.ensureInferenceKey")(function*(
  writer: ClientWriter,
  opts: SetupOptions,
  endpoint: { readonly server: string; readonly creds: Credentials },
  models: ReadonlyArray<CatalogModel>
) {
  if (Option.isSome(endpoint.creds.inferenceKey)) return { key: endpoint.creds.inferenceKey, created: false }
  let create = opts.createKey
  if (!create && !opts.dryRun && (yield* isInteractive)) {
    // Existing keys cannot be shown again, but saying they exist helps the user look for theirs.
    const existing = Option.isSome(endpoint.creds.accessToken)
      ? yield* (yield* ModelCatalogClient).listKeys({ server: endpoint.server, token: endpoint.creds.accessToken.value }).pipe(
        Effect.map((keys) => keys.filter((k) => k.revokedAt === null || k.revokedAt === undefined).length),
        Effect.orElseSucceed(() => 0)
      )
      : 0
    create = yield* Prompt.confirm({
      message: `No inference key (tsk_…) at hand (--api-key or $${KEY_ENV})${
        existing > 0 ? `; the server has ${existing} active key${existing === 1 ? "" : "s"}, whose secrets are not shown again` : ""
      }. Create one on ${endpoint.server} for ${writer.displayName}?`,
      initial: true
    }).pipe(Effect.mapError(() => new CliError({ message: "cancelled", exitCode: 130 })))
  }
  if (!create) return { key: Option.none<Redacted.Redacted<string>>(), created: false }
  if (opts.dryRun) return yield* usage("--create-key and --dry-run together: a dry run creates nothing")
  if (Option.isNone(endpoint.creds.accessToken)) {
    return yield* new CliError({
      message: "creating an inference key needs an admin access token (tat_…): use a context from `tether connect`, or --api-key tat_…",
      exitCode: 4
    })
  }
  const catalog = yield* ModelCatalogClient
  const created = yield* catalog.createKey(
    { server: endpoint.server, token: endpoint.creds.accessToken.value },
    { name: `${writer.id} on ${NodeOs.hostname()}`.slice(0, 100), ...(opts.only._tag === "Some" ? { models: models.map((m) => m.id) } : {}) }
  ).pipe(Effect.mapError(catalogFailure))
  yield* Console.error(
    `Created inference key "${created.key.name}" (${created.key.prefix}…). It is shown once, below; keep it in your shell profile or secret store:`
  )
  yield* Console.log(`export ${KEY_ENV}=${Redacted.value(created.secret)}`)
  return { key: Option.some(created.secret), created: true }
})

const printPlan = (plan: WritePlan, dryRun: boolean, secret: Option.Option<Redacted.Redacted<string>>) =>
  Effect.gen(function*() {
    const mask = (text: string) => Option.match(secret, { onNone: () => text, onSome: (s) => text.split(Redacted.value(s)).join(maskSecret(Redacted.value(s))) })
    if (dryRun) {
      const diffs = plan.changes.filter((c) => c.changed)
      if (diffs.length === 0) yield* Console.log(`${plan.client.displayName}: already configured, nothing would change.`)
      // The diff of a file holding the literal key shows it masked.
      for (const change of diffs) yield* Console.log(mask(change.diff).replace(/\n$/, ""))
      yield* Console.error("dry run: nothing written")
    }
    for (const note of plan.notes) yield* Console.error(`note: ${note}`)
  })

/** The whole setup for one client: catalog → model → key → plan → (diff | backup + write) → usage. */
export const runSetup = Effect.fn("setup.run")(function*(writer: ClientWriter, opts: SetupOptions) {
  if (!PROVIDER_ID_RE.test(opts.name)) {
    return yield* usage(`--name must be 1–40 lowercase letters, digits, - or _ (got "${opts.name}")`)
  }
  const endpoint = yield* resolveEndpoint(opts)
  const credential = Option.orElse(endpoint.creds.inferenceKey, () => endpoint.creds.accessToken)
  if (Option.isNone(credential)) {
    return yield* new CliError({
      message: `no credential for ${endpoint.server}: run \`tether connect HOST\`, or pass --api-key (tsk_… or tat_…), or set $${KEY_ENV}`,
      exitCode: 4
    })
  }
  const catalog = yield* ModelCatalogClient
  const listing: CatalogEndpoint = { server: endpoint.server, token: credential.value }
  const all = yield* catalog.listModels(listing).pipe(Effect.mapError(catalogFailure))
  const models = filterModels(all, Option.getOrUndefined(opts.only))
  if (models.length === 0) {
    return yield* new CliError({
      message: all.length === 0
        ? `the server at ${endpoint.server} offers no models (configure a provider on the server first)`
        : `no model matches --only ${Option.getOrElse(opts.only, () => "")}; the server offers: ${all.map((m) => m.id).join(", ")}`,
      exitCode: 2
    })
  }
  const model = yield* chooseModel(writer, models, opts.model)

  if (opts.writeKey && writer.keyHandling !== "literal") {
    yield* Console.error(
      writer.keyHandling === "env"
        ? `note: ${writer.displayName} reads the key from $${KEY_ENV}; --write-key is ignored and no key is written.`
        : `note: ${writer.displayName} has no config file to write a key into; --write-key is ignored.`
    )
  }
  const base: WriterInput = {
    serverUrl: endpoint.server,
    models,
    providerId: opts.name,
    providerName: opts.name === "tether" ? "Tether" : `Tether (${opts.name})`,
    keyEnv: KEY_ENV,
    model,
    paths: yield* pathEnv
  }
  const configWriter = yield* ConfigWriter
  // Plan once before any key is created, so a file we cannot merge into fails first.
  let plan = yield* configWriter.plan(writer, base)

  const { key } = yield* ensureInferenceKey(writer, opts, endpoint, models)
  if (writer.keyHandling === "literal" && opts.writeKey) {
    if (Option.isNone(key)) {
      return yield* usage(
        `--write-key needs an inference key: pass --api-key tsk_…, set $${KEY_ENV}, or add --create-key`
      )
    }
    plan = yield* configWriter.plan(writer, { ...base, literalKey: Redacted.value(key.value) })
  }
  yield* printPlan(plan, opts.dryRun, key)
  if (opts.dryRun) return

  const applied = yield* configWriter.apply(plan)
  if (applied.length === 0 && plan.changes.length > 0) {
    yield* Console.log(`${writer.displayName}: already configured for ${endpoint.server}; nothing changed.`)
  }
  for (const file of applied) {
    yield* Console.log(`wrote ${file.path}${file.backup !== undefined ? ` (previous version: ${file.backup})` : ""}`)
  }
  yield* Console.log(
    `\n${writer.displayName} → ${endpoint.server} (${models.length} model${models.length === 1 ? "" : "s"}${model !== undefined ? `, starts with ${model}` : ""}). Use it:`
  )
  for (const line of plan.usage) yield* Console.log(`  ${line}`)
  if (writer.keyHandling === "env" && Option.isNone(key)) {
    yield* Console.error(
      `note: ${writer.displayName} needs $${KEY_ENV} set to an inference key (tsk_…); create one with --create-key or \`tether setup-${writer.id} --create-key\`.`
    )
  }
})

// ---------------------------------------------------------------------------
// Entry points of the commands

/** The services the setup commands need beyond the CLI's own layer. */
const SetupLive = Layer.mergeAll(ConfigWriter.Default, ModelCatalogClient.Default)

/** Loads a writer when its command runs (the format libraries stay off the start-up path). */
const loadWriter = (id: ClientId): Effect.Effect<ClientWriter> =>
  Effect.promise(() => import("../services/config-writer/clients/index.js")).pipe(Effect.map((m) => m.clientWriter(id)))

/** `tether setup-<client>`. */
export const setupClient = (id: ClientId, opts: SetupOptions) =>
  loadWriter(id).pipe(
    Effect.flatMap((writer) => runSetup(writer, opts)),
    Effect.provide(SetupLive)
  )

/** `tether configure codex`: narrows the catalog to one upstream provider, then sets Codex up. */
export const configureCodex = (opts: SetupOptions & { readonly provider: Option.Option<string> }) =>
  Effect.gen(function*() {
    // Narrow the catalog to one upstream provider: from --provider, from --model, or by asking.
    let provider = Option.orElse(opts.provider, () => Option.map(opts.model, (m) => m.split("/")[0] ?? m))
    if (Option.isNone(provider) && Option.isNone(opts.only)) {
      if (!(yield* isInteractive)) {
        return yield* usage("pass --provider and --model (or run in a terminal to pick them)")
      }
      const endpoint = yield* resolveEndpoint(opts)
      const credential = Option.orElse(endpoint.creds.inferenceKey, () => endpoint.creds.accessToken)
      if (Option.isNone(credential)) {
        return yield* new CliError({ message: `no credential for ${endpoint.server}: run \`tether connect HOST\` or pass --api-key`, exitCode: 4 })
      }
      const catalog = yield* ModelCatalogClient
      const models = yield* catalog.listModels({ server: endpoint.server, token: credential.value }).pipe(Effect.mapError(catalogFailure))
      const providers = [...new Set(models.map((m) => m.id.split("/")[0] ?? m.id))]
      if (providers.length === 0) return yield* new CliError({ message: `the server at ${endpoint.server} offers no models` })
      provider = Option.some(
        yield* Prompt.select({ message: "Provider", choices: providers.map((p) => ({ title: p, value: p })) }).pipe(
          Effect.mapError(() => new CliError({ message: "cancelled", exitCode: 130 }))
        )
      )
    }
    const only = Option.isSome(opts.only) ? opts.only : Option.map(provider, (p) => `${p}/*`)
    const interactive = yield* isInteractive
    const model = Option.isSome(opts.model) || !interactive ? opts.model : Option.none<string>()
    const codexWriter = yield* loadWriter("codex")
    yield* runSetup(
      interactive && Option.isNone(model) ? { ...codexWriter, requiresModel: true } : codexWriter,
      { ...opts, only, model }
    )
  }).pipe(Effect.provide(SetupLive))

/**
 * `tether providers add | list | show | rm` (admin): the model providers the
 * gateway forwards to. An API key is read on this machine (from the named
 * environment variable or stdin), sent once, stored encrypted by the server
 * and never shown again.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { allProviderFormats } from "../domain/provider-format.js"
import type { ModelSpec, ProviderInfo, ProviderModel } from "../domain/provider.js"
import { CliError } from "./errors.js"
import { printFields, printJson, printTable, Stdin } from "./output.js"
import { withClient } from "./remote.js"
import { resolveTarget, targetOptions } from "./target.js"

const jsonOption = Options.boolean("json").pipe(Options.withDescription("print JSON"))

/** A provider as scripts see it in --json output (there is no key to show). */
export const providerJson = (p: ProviderInfo) => ({
  name: p.name,
  baseUrl: p.baseUrl,
  format: p.format,
  hasApiKey: p.hasApiKey,
  models: p.models.map((m) => ({ id: m.id, contextWindow: m.contextWindow, maxOutputTokens: m.maxOutputTokens })),
  createdAt: DateTime.formatIso(p.createdAt),
  createdBy: p.createdBy
})

const usage = (message: string) => new CliError({ message, exitCode: 2 })

/** `--models a,b:128000,c:200000:8192`: ids, optionally with context window and max output. */
export const parseModelSpecs = (text: string): Effect.Effect<ReadonlyArray<ModelSpec>, CliError> =>
  Effect.forEach(text.split(",").map((s) => s.trim()).filter((s) => s !== ""), (item) => {
    const [id = "", context, output, ...rest] = item.split(":")
    const number = (value: string | undefined, what: string) => {
      if (value === undefined || value === "") return Effect.succeed(null)
      const n = Number(value)
      return Number.isSafeInteger(n) && n > 0
        ? Effect.succeed(n)
        : Effect.fail(usage(`--models: the ${what} of ${id} must be a positive whole number, not ${JSON.stringify(value)}`))
    }
    if (rest.length > 0 || id === "") {
      return Effect.fail(usage(`--models: ${JSON.stringify(item)} is not ID[:CONTEXT_WINDOW[:MAX_OUTPUT]]`))
    }
    return Effect.map(
      Effect.all([number(context, "context window"), number(output, "max output")]),
      ([contextWindow, maxOutputTokens]): ModelSpec =>
        contextWindow === null && maxOutputTokens === null ? id : { id, contextWindow, maxOutputTokens }
    )
  })

const readApiKey = (opts: { readonly apiKeyEnv: Option.Option<string>; readonly apiKeyStdin: boolean }) =>
  Effect.gen(function*() {
    if (Option.isSome(opts.apiKeyEnv) && opts.apiKeyStdin) {
      return yield* usage("give either --api-key-env or --api-key-stdin, not both")
    }
    if (Option.isSome(opts.apiKeyEnv)) {
      const name = opts.apiKeyEnv.value.trim()
      const value = yield* Config.redacted(name).pipe(
        Config.option,
        Effect.orElseSucceed(() => Option.none<Redacted.Redacted<string>>())
      )
      if (Option.isNone(value) || Redacted.value(value.value).trim() === "") {
        return yield* usage(`--api-key-env: the environment variable ${name} is not set or empty`)
      }
      return Option.some(Redacted.make(Redacted.value(value.value).trim()))
    }
    if (opts.apiKeyStdin) {
      const text = (yield* (yield* Stdin).readAll).trim()
      if (text === "") return yield* usage("--api-key-stdin: stdin was empty")
      return Option.some(Redacted.make(text))
    }
    return Option.none()
  })

const modelColumns = [
  { header: "MODEL", get: (m: ProviderModel) => m.id },
  { header: "CONTEXT", get: (m: ProviderModel) => (m.contextWindow === null ? "-" : String(m.contextWindow)) },
  { header: "MAX OUTPUT", get: (m: ProviderModel) => (m.maxOutputTokens === null ? "-" : String(m.maxOutputTokens)) }
]

const add = Command.make(
  "add",
  {
    ...targetOptions,
    name: Args.text({ name: "NAME" }).pipe(Args.withDescription("lower-case name; models are called NAME/model")),
    baseUrl: Options.text("base-url").pipe(
      Options.withDescription("the provider's API base, e.g. https://api.openai.com/v1 (an origin alone gets /v1)")
    ),
    apiKeyEnv: Options.text("api-key-env").pipe(
      Options.withDescription("read the provider's API key from this environment variable (on this machine)"),
      Options.optional
    ),
    apiKeyStdin: Options.boolean("api-key-stdin").pipe(Options.withDescription("read the provider's API key from stdin")),
    format: Options.choice("format", allProviderFormats).pipe(
      Options.withDescription("the wire format the provider speaks"),
      Options.withDefault("openai-chat" as const)
    ),
    models: Options.text("models").pipe(
      Options.withDescription("comma-separated model ids, each optionally ID:CONTEXT_WINDOW:MAX_OUTPUT"),
      Options.optional
    ),
    discover: Options.boolean("discover").pipe(Options.withDescription("ask the provider's models endpoint for the catalog")),
    json: jsonOption
  },
  (opts) =>
    Effect.gen(function*() {
      if (Option.isSome(opts.models) && opts.discover) return yield* usage("give either --models or --discover, not both")
      const models = Option.isSome(opts.models) ? Option.some(yield* parseModelSpecs(opts.models.value)) : Option.none()
      const apiKey = yield* readApiKey(opts)
      const target = yield* resolveTarget(opts)
      const provider = yield* withClient(target, (client) =>
        client.providers.create({
          payload: {
            name: opts.name,
            baseUrl: opts.baseUrl,
            format: opts.format,
            discover: opts.discover,
            ...(Option.isSome(apiKey) ? { apiKey: apiKey.value } : {}),
            ...(Option.isSome(models) ? { models: models.value } : {})
          }
        }))
      if (opts.json) return yield* printJson(providerJson(provider))
      yield* Console.log(
        `Added provider ${provider.name} (${provider.format}, ${provider.baseUrl}) with ${provider.models.length} ` +
          `model${provider.models.length === 1 ? "" : "s"}${provider.hasApiKey ? "; its API key is stored encrypted" : ", without an API key"}.`
      )
      if (provider.models.length > 0) yield* printTable(modelColumns, provider.models)
    })
).pipe(Command.withDescription("add a model provider (admin)"))

const list = Command.make("list", { ...targetOptions, json: jsonOption }, (opts) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(opts)
    const { providers } = yield* withClient(target, (client) => client.providers.list())
    if (opts.json) return yield* printJson(providers.map(providerJson))
    yield* printTable(
      [
        { header: "NAME", get: (p: ProviderInfo) => p.name },
        { header: "FORMAT", get: (p: ProviderInfo) => p.format },
        { header: "BASE URL", get: (p: ProviderInfo) => p.baseUrl },
        { header: "API KEY", get: (p: ProviderInfo) => (p.hasApiKey ? "stored" : "none") },
        { header: "MODELS", get: (p: ProviderInfo) => (p.models.length === 0 ? "any" : String(p.models.length)) }
      ],
      providers
    )
  })).pipe(Command.withDescription("list model providers (admin)"))

const show = Command.make("show", { ...targetOptions, name: Args.text({ name: "NAME" }), json: jsonOption }, (opts) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(opts)
    const provider = yield* withClient(target, (client) => client.providers.get({ path: { name: opts.name } }))
    if (opts.json) return yield* printJson(providerJson(provider))
    yield* printFields([
      ["name", provider.name],
      ["format", provider.format],
      ["base url", provider.baseUrl],
      ["api key", provider.hasApiKey ? "stored (encrypted; never shown)" : "none"],
      ["created", `${DateTime.formatIso(provider.createdAt)} by ${provider.createdBy}`],
      ["models", provider.models.length === 0 ? "not listed: any model id is forwarded" : String(provider.models.length)]
    ])
    if (provider.models.length > 0) yield* printTable(modelColumns, provider.models)
  })).pipe(Command.withDescription("show one provider and its models (admin)"))

const rm = Command.make("rm", { ...targetOptions, name: Args.text({ name: "NAME" }) }, (opts) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(opts)
    yield* withClient(target, (client) => client.providers.remove({ path: { name: opts.name } }))
    yield* Console.log(`Removed provider ${opts.name} (its models left the catalog)`)
  })).pipe(Command.withDescription("remove a provider and its stored key (admin)"))

export const providersCommand = Command.make("providers").pipe(
  Command.withDescription("manage the model gateway's providers (admin)"),
  Command.withSubcommands([add, list, show, rm])
)

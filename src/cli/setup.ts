/**
 * `tether setup-<client>` and `tether configure codex`: point a coding CLI at
 * the active Tether server's model gateway by merging a provider entry into
 * that client's own config files (see docs/config-writers.md).
 *
 * This module only declares the commands and their options; what they do is
 * in setup-run.ts, loaded when one of them runs.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import { type ClientName, clientCatalog } from "../services/config-writer/clients/catalog.js"

export const KEY_ENV = "TETHER_API_KEY"

// ---------------------------------------------------------------------------
// Options

const setupOptions = {
  context: Options.text("context").pipe(
    Options.withDescription("saved context to use instead of the current one (env: TETHER_CONTEXT)"),
    Options.withFallbackConfig(Config.string("TETHER_CONTEXT")),
    Options.optional
  ),
  remote: Options.text("remote").pipe(
    Options.withDescription("Tether server to use instead of the context's: host, host:port or http(s):// URL"),
    Options.optional
  ),
  apiKey: Options.redacted("api-key").pipe(
    Options.withDescription(
      `credential instead of the context's token: an inference key (tsk_…, also the key the client will use) or an access token (tat_…, never written); env ${KEY_ENV} is used for tsk_ keys`
    ),
    Options.optional
  ),
  model: Options.text("model").pipe(Options.withDescription("model the client starts with (provider/model)"), Options.optional),
  only: Options.text("only").pipe(
    Options.withDescription("offer only models matching these globs (comma-separated, e.g. 'anthropic/*,openai/gpt-5*')"),
    Options.optional
  ),
  name: Options.text("name").pipe(
    Options.withDescription("id of the provider entry written into the client's config (default tether)"),
    Options.withDefault("tether")
  ),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("print a unified diff of what would change; write nothing")),
  writeKey: Options.boolean("write-key").pipe(
    Options.withDescription("for clients that can only hold a literal key: write the inference key into their config (mode 0600)")
  ),
  createKey: Options.boolean("create-key").pipe(
    Options.withDescription("create an inference key on the server when none is at hand (needs an admin access token)")
  )
} as const

export type SetupOptions = Command.Command.ParseConfig<typeof setupOptions>

// ---------------------------------------------------------------------------
// Commands

/** The implementation, loaded when a setup command runs. */
const loadRun = () => Effect.promise(() => import("./setup-run.js"))

const setupCommandFor = (client: ClientName) =>
  Command.make(`setup-${client.id}`, setupOptions, (opts) => Effect.flatMap(loadRun(), (run) => run.setupClient(client.id, opts))).pipe(
    Command.withDescription(`point ${client.displayName} at the Tether model gateway (merges into its config; --dry-run to preview)`)
  )

export const setupCommands = clientCatalog.map(setupCommandFor)

const configureCodex = Command.make(
  "codex",
  {
    ...setupOptions,
    provider: Options.text("provider").pipe(
      Options.withDescription("upstream provider whose models to offer (the part before / in model ids)"),
      Options.optional
    )
  },
  (opts) => Effect.flatMap(loadRun(), (run) => run.configureCodex(opts))
).pipe(Command.withDescription("configure Codex for one provider and model (interactive, or --provider --model --name)"))

export const configureCommand = Command.make("configure").pipe(
  Command.withDescription("configure a coding client interactively"),
  Command.withSubcommands([configureCodex])
)

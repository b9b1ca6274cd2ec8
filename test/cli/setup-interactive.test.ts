/**
 * The interactive paths of the setup commands, run in-process with a fake
 * terminal that types keys: `tether configure codex` picks the provider and
 * the model from prompts, and a setup without an inference key offers to
 * create one (confirm). A real fake-gateway socket on 127.0.0.1 answers.
 */
import * as Command from "@effect/cli/Command"
import * as Terminal from "@effect/platform/Terminal"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { assert } from "vitest"
import { renderCliError } from "../../src/cli/errors.js"
import { Stdin } from "../../src/cli/output.js"
import { configureCommand, setupCommands } from "../../src/cli/setup.js"
import { formatToken } from "../../src/domain/token-format.js"
import { ContextRepo } from "../../src/services/contexts/ContextRepo.js"
import { TetherHome } from "../../src/services/home/TetherHome.js"
import { startFakeGateway } from "../services/config-writer/fake-gateway.js"

const TSK = formatToken("inference", "P".repeat(32))
const TAT = formatToken("access", "Q".repeat(32))

/** A terminal that types `keys` for every prompt and records what it shows. */
const typing = (keys: ReadonlyArray<string>, shown: Array<string>): Layer.Layer<Terminal.Terminal> =>
  Layer.succeed(
    Terminal.Terminal,
    Terminal.Terminal.of({
      columns: Effect.succeed(100),
      rows: Effect.succeed(40),
      isTTY: Effect.succeed(true),
      readLine: Effect.succeed(""),
      display: (text) => Effect.sync(() => void shown.push(text)),
      readInput: Effect.gen(function*() {
        const mailbox = yield* Mailbox.make<Terminal.UserInput>()
        for (const key of keys) {
          yield* mailbox.offer({ input: Option.some(key), key: { name: key, ctrl: false, meta: false, shift: false } })
        }
        return mailbox
      })
    })
  )

const root = Command.make("tether").pipe(Command.withSubcommands([configureCommand, ...setupCommands]))
const cli = Command.run(root, { name: "tether", version: "0.0.0-test" })

const withGatewayAndHome = <A>(body: (ctx: { url: string; home: string; createdKeys: Array<string> }) => Effect.Effect<A, unknown>) =>
  Effect.scoped(
    Effect.gen(function*() {
      const gateway = yield* Effect.acquireRelease(
        Effect.promise(() =>
          startFakeGateway({
            models: [{ id: "anthropic/claude-sonnet-4.5" }, { id: "openai/gpt-5" }, { id: "openai/gpt-5-mini" }],
            tokens: [TSK, TAT],
            adminTokens: [TAT]
          })
        ),
        (g) => Effect.promise(() => g.close())
      )
      const home = yield* Effect.acquireRelease(
        Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), "tether-setup-test-"))),
        (dir) => Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }))
      )
      return yield* body({ url: gateway.url, home, createdKeys: gateway.createdKeys })
    })
  )

const runIn = (home: string, args: ReadonlyArray<string>, keys: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const shown: Array<string> = []
    const current = yield* Effect.console
    const console: Console.Console = {
      ...current,
      log: (...xs) => Effect.sync(() => void out.push(xs.map(String).join(" "))),
      error: (...xs) => Effect.sync(() => void err.push(xs.map(String).join(" ")))
    }
    const tetherDir = NodePath.join(home, ".tether")
    const exit = yield* cli(["node", "tether", ...args]).pipe(
      Effect.provideService(Stdin, Stdin.fixed("", { isTTY: true })),
      Effect.provide(ContextRepo.at(tetherDir)),
      Effect.provide(TetherHome.fixed(tetherDir)),
      Effect.provide(typing(keys, shown)),
      Effect.provide(NodeContext.layer),
      Effect.withConsole(console),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ HOME: home, ...env })))),
      Effect.exit
    )
    if (Exit.isFailure(exit)) assert.fail(`command failed: ${renderCliError(exit.cause)}\n${err.join("\n")}`)
    return { out: out.join("\n"), err: err.join("\n"), shown: shown.join("") }
  })

describe("interactive setup", () => {
  it.effect("configure codex: picks the provider, then the model, from prompts", () =>
    withGatewayAndHome(({ url, home }) =>
      Effect.gen(function*() {
        // "down, enter" in each prompt: the second provider (openai), then its second model.
        const result = yield* runIn(home, ["configure", "codex", "--remote", url], ["down", "enter"], { TETHER_API_KEY: TSK })
        assert.include(result.shown, "Provider")
        assert.include(result.shown, "Model for Codex CLI")
        assert.include(result.out, "codex --profile tether-openai-gpt-5-mini")
        const config = yield* Effect.promise(() => NodeFs.readFile(NodePath.join(home, ".codex/config.toml"), "utf8"))
        assert.include(config, `model = "openai/gpt-5-mini"\nmodel_provider = "tether"\n`)
        const profiles = (yield* Effect.promise(() => NodeFs.readdir(NodePath.join(home, ".codex")))).sort()
        assert.deepStrictEqual(profiles, ["config.toml", "tether-openai-gpt-5-mini.config.toml", "tether-openai-gpt-5.config.toml"])
      })
    ))

  it.effect("without an inference key, a confirm creates one and the export line is printed once", () =>
    withGatewayAndHome(({ url, home, createdKeys }) =>
      Effect.gen(function*() {
        const result = yield* runIn(home, ["setup-opencode", "--remote", url, "--api-key", TAT], ["y"], {})
        assert.include(result.shown, "No inference key")
        assert.lengthOf(createdKeys, 1)
        assert.include(result.out, `export TETHER_API_KEY=${createdKeys[0]}`)
        assert.include(result.err, "Created inference key")
        const config = yield* Effect.promise(() => NodeFs.readFile(NodePath.join(home, ".config/opencode/opencode.json"), "utf8"))
        assert.notInclude(config, createdKeys[0] ?? "?")
        assert.notInclude(config, TAT)
      })
    ))

  it.effect("declining the confirm creates nothing and still writes the config", () =>
    withGatewayAndHome(({ url, home, createdKeys }) =>
      Effect.gen(function*() {
        const result = yield* runIn(home, ["setup-crush", "--remote", url, "--api-key", TAT], ["n"], {})
        assert.lengthOf(createdKeys, 0)
        assert.include(result.err, "needs $TETHER_API_KEY set to an inference key")
        yield* Effect.promise(() => NodeFs.access(NodePath.join(home, ".config/crush/crush.json")))
      })
    ))
})

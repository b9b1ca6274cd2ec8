import * as CliConfig from "@effect/cli/CliConfig"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, it } from "@effect/vitest"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as NodeOs from "node:os"
import { assert } from "vitest"
import { isRootHelpRequest, renderHelpDoc } from "../../src/cli/help.js"
import { contextsCommand } from "../../src/cli/contexts.js"
import { hostCommand } from "../../src/cli/host.js"
import { keysCommand } from "../../src/cli/keys.js"
import { rootCommand, rootHelpText, runCommand } from "../../src/cli/main.js"
import { modelsCommand } from "../../src/cli/models.js"
import { providersCommand } from "../../src/cli/providers.js"
import { serverCommand } from "../../src/cli/server.js"
import { sessionsCommand } from "../../src/cli/sessions.js"
import { configureCommand } from "../../src/cli/setup.js"
import { tokensCommand } from "../../src/cli/tokens.js"
import { ContextRepo } from "../../src/services/contexts/ContextRepo.js"
import { TetherHome } from "../../src/services/home/TetherHome.js"

/** The commands that have subcommands of their own. */
const groups = [
  contextsCommand,
  hostCommand,
  keysCommand,
  modelsCommand,
  providersCommand,
  serverCommand,
  sessionsCommand,
  configureCommand,
  tokensCommand
]

/** The help of the root, of every group, and of every command one level below each. */
const helpDocs = (): Array<readonly [string, HelpDoc.HelpDoc]> =>
  [rootCommand, ...groups].flatMap((command) => [
    [command.descriptor, "(whole group)"] as const,
    ...[...HashMap.entries(CommandDescriptor.getSubcommands(command.descriptor))].map(([name, child]) => [child, name] as const)
  ]).map(([descriptor, name]) => [name, CommandDescriptor.getHelp(descriptor, CliConfig.defaultConfig)] as const)

/** What the library's `Command.run` prints for `args`, and how it ended. */
const printedBy = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const current = yield* Effect.console
    const console: Console.Console = { ...current, log: (...xs) => Effect.sync(() => void out.push(xs.map(String).join(" "))) }
    // The help path touches no context or home: these only satisfy the command tree's requirements.
    const services = Layer.mergeAll(ContextRepo.Test, TetherHome.fixed(NodeOs.tmpdir()), NodeContext.layer)
    yield* runCommand(["node", "tether", ...args]).pipe(Effect.provide(services), Effect.withConsole(console))
    return out.join("\n")
  })

describe("renderHelpDoc", () => {
  it("gives the library's text for the help of every command and group", () => {
    const docs = helpDocs()
    assert.isAbove(docs.length, 70)
    for (const [name, doc] of docs) assert.strictEqual(renderHelpDoc(doc), HelpDoc.toAnsiText(doc), name)
  })

  it("gives the library's text for every kind of span and block", () => {
    const styled = Span.spans([
      Span.text("plain "),
      Span.code("code"),
      Span.text(" "),
      Span.error(Span.spans([Span.text("error with "), Span.strong("strong"), Span.weak(" and weak")])),
      Span.uri("https://example.com"),
      Span.empty
    ])
    const docs: ReadonlyArray<HelpDoc.HelpDoc> = [
      HelpDoc.empty,
      HelpDoc.p(styled),
      HelpDoc.h1(styled),
      HelpDoc.blocks([HelpDoc.h2("title"), HelpDoc.p(""), HelpDoc.p("after an empty paragraph")]),
      HelpDoc.enumeration([HelpDoc.p("one"), HelpDoc.blocks([HelpDoc.p("two"), HelpDoc.p("three")])]),
      HelpDoc.descriptionList([
        [Span.text("--flag"), HelpDoc.blocks([HelpDoc.p(styled), HelpDoc.enumeration([HelpDoc.p("a"), HelpDoc.p("b")])])],
        [
          Span.code("nested"),
          HelpDoc.descriptionList([[Span.text("inner"), HelpDoc.p("deeper")], [Span.text("next"), HelpDoc.p("x")]])
        ]
      ]),
      HelpDoc.blocks([
        HelpDoc.h1("SECTION"),
        HelpDoc.enumeration([HelpDoc.descriptionList([[Span.text("in a list"), HelpDoc.p("body")]])])
      ]),
      // Bodies that break no line: the printer may lay these out flat, so they go to the library.
      HelpDoc.descriptionList([[Span.text("short"), HelpDoc.empty]]),
      HelpDoc.descriptionList([[Span.text("x".repeat(100)), HelpDoc.empty], [Span.text("y"), HelpDoc.p("z")]])
    ]
    for (const doc of docs) assert.strictEqual(renderHelpDoc(doc), HelpDoc.toAnsiText(doc), JSON.stringify(doc))
  })
})

describe("root help", () => {
  it.effect("prints what Command.run prints for --help, -h and no arguments", () =>
    Effect.gen(function*() {
      const text = rootHelpText()
      assert.include(text, "setup-codex")
      for (const args of [["--help"], ["-h"], []]) {
        assert.isTrue(isRootHelpRequest(args))
        assert.strictEqual(text, yield* printedBy(args), args.join(" "))
      }
    }))

  it("lists every command", () => {
    const text = rootHelpText()
    for (const [name] of HashMap.entries(CommandDescriptor.getSubcommands(rootCommand.descriptor))) {
      assert.include(text, `  - ${name}`, name)
    }
  })

  it("leaves everything else to the library", () => {
    for (const args of [["contexts"], ["--help", "--version"], ["--version"], ["setup-codex", "--help"], ["--wizard"]]) {
      assert.isFalse(isRootHelpRequest(args), args.join(" "))
    }
  })
})

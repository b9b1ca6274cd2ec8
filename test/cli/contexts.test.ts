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
import * as Redacted from "effect/Redacted"
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { assert } from "vitest"
import { contextsCommand } from "../../src/cli/contexts.js"
import { CliError, exitCodeOf, InvalidAccessToken, renderCliError, renderCliErrorWith } from "../../src/cli/errors.js"
import { formatRelative, formatTime, renderTable, Stdin, type StdinService } from "../../src/cli/output.js"
import { resolveTarget, targetOptions } from "../../src/cli/target.js"
import {
  ContextExists,
  ContextFileCorrupt,
  ContextNotFound,
  DefaultContextProtected,
  InvalidContextName
} from "../../src/domain/context-file.js"
import { InvalidServerAddress } from "../../src/domain/server-url.js"
import { formatToken, maskSecret } from "../../src/domain/token-format.js"
import { ContextRepo } from "../../src/services/contexts/ContextRepo.js"

// ---------------------------------------------------------------------------
// Harness: run commands in-process against a temporary TETHER_HOME

const TOKEN = formatToken("access", "Q".repeat(16) + "r".repeat(16))
const OTHER_TOKEN = formatToken("access", "Z".repeat(32))

interface Outcome {
  readonly exit: Exit.Exit<void, unknown>
  readonly out: string
  readonly err: string
  /** 0 on success, else what the entry point would exit with. */
  readonly code: number
  /** The one line the entry point would print for a failure. */
  readonly line: string
}

interface RunOptions {
  readonly stdin?: StdinService
  readonly env?: Record<string, string>
  readonly terminal?: Layer.Layer<Terminal.Terminal>
}

/** A terminal that types `keys` and records what it displays. */
const fakeTerminal = (keys: ReadonlyArray<string>, displayed: Array<string> = []): Layer.Layer<Terminal.Terminal> =>
  Layer.succeed(
    Terminal.Terminal,
    Terminal.Terminal.of({
      columns: Effect.succeed(80),
      rows: Effect.succeed(24),
      isTTY: Effect.succeed(true),
      readLine: Effect.succeed(keys.join("")),
      display: (text) => Effect.sync(() => void displayed.push(text)),
      readInput: Effect.gen(function*() {
        const mailbox = yield* Mailbox.make<Terminal.UserInput>()
        for (const key of keys) {
          yield* mailbox.offer({ input: Option.some(key), key: { name: key, ctrl: false, meta: false, shift: false } })
        }
        return mailbox
      })
    })
  )

/** A terminal that must not be used (non-interactive runs must never prompt). */
const noTerminal: Layer.Layer<Terminal.Terminal> = Layer.succeed(
  Terminal.Terminal,
  Terminal.Terminal.of({
    columns: Effect.succeed(80),
    rows: Effect.succeed(24),
    isTTY: Effect.succeed(false),
    readLine: Effect.die("readLine must not be called"),
    display: () => Effect.die("display must not be called"),
    readInput: Effect.die("readInput must not be called")
  })
)

const cli = Command.run(contextsCommand, { name: "tether", version: "0.0.0-test" })

const makeRunner = (dir: string) => (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const current = yield* Effect.console
    const console: Console.Console = {
      ...current,
      log: (...xs) => Effect.sync(() => void out.push(xs.map(String).join(" "))),
      error: (...xs) => Effect.sync(() => void err.push(xs.map(String).join(" ")))
    }
    const exit = yield* cli(["node", "tether", ...args]).pipe(
      Effect.provideService(Stdin, options.stdin ?? Stdin.fixed("")),
      Effect.provide(ContextRepo.at(dir)),
      Effect.provide(options.terminal ?? noTerminal),
      Effect.provide(NodeContext.layer),
      Effect.withConsole(console),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(options.env ?? {})))),
      Effect.exit
    )
    const outcome: Outcome = {
      exit,
      out: out.join("\n"),
      err: err.join("\n"),
      code: Exit.isSuccess(exit) ? 0 : exitCodeOf(exit.cause),
      line: Exit.isSuccess(exit) ? "" : renderCliError(exit.cause)
    }
    return outcome
  })

type Run = ReturnType<typeof makeRunner>

const inTempHome = <A, E>(body: (run: Run, dir: string) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.scoped(
    Effect.acquireRelease(
      Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), "tether-cli-test-"))),
      (dir) => Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }))
    ).pipe(Effect.flatMap((dir) => body(makeRunner(dir), dir)))
  )

const ok = (outcome: Outcome): Outcome => {
  if (Exit.isFailure(outcome.exit)) assert.fail(`command failed: ${outcome.line}\n${outcome.err}`)
  return outcome
}

const failed = (outcome: Outcome): Outcome => {
  if (Exit.isSuccess(outcome.exit)) assert.fail(`command succeeded, expected a failure:\n${outcome.out}`)
  assert.notStrictEqual(outcome.code, 0)
  assert.notInclude(outcome.line, "\n")
  return outcome
}

// ---------------------------------------------------------------------------

describe("tether contexts", () => {
  it.effect("add → use → current --json → remove without --yes (non-interactive) fails", () =>
    inTempHome((run, dir) =>
      Effect.gen(function*() {
        const added = ok(yield* run(["add", "prod", "--url", "tether.example.com", "--description", "Production"]))
        assert.include(added.out, `Added context "prod" (http://tether.example.com:7337)`)
        assert.include(added.out, "tether contexts use prod")

        ok(yield* run(["use", "prod"]))
        const current = ok(yield* run(["current", "--json"]))
        assert.deepStrictEqual(JSON.parse(current.out), {
          name: "prod",
          server: "http://tether.example.com:7337",
          accessToken: null,
          scope: null,
          description: "Production",
          active: true
        })
        assert.strictEqual(ok(yield* run(["current"])).out, "prod")

        const refused = failed(yield* run(["remove", "prod"]))
        assert.strictEqual(refused.code, 1)
        assert.include(refused.line, "--yes")
        assert.include(refused.line, "not a terminal")
        assert.strictEqual(ok(yield* run(["current"])).out, "prod")

        const removed = ok(yield* run(["remove", "prod", "--yes"]))
        assert.include(removed.out, `Removed context "prod"`)
        assert.include(removed.out, `The current context is now "default"`)
        assert.strictEqual(ok(yield* run(["current"])).out, "default")

        const mode = (yield* Effect.promise(() => NodeFs.stat(NodePath.join(dir, "config.json")))).mode & 0o777
        assert.strictEqual(mode, 0o600)
      })
    ))

  it.effect("remove asks on a terminal: yes removes, no keeps it", () =>
    inTempHome((run) =>
      Effect.gen(function*() {
        ok(yield* run(["add", "a", "--url", "a.example.com"]))
        const displayed: Array<string> = []
        const declined = failed(
          yield* run(["remove", "a"], { stdin: Stdin.fixed("", { isTTY: true }), terminal: fakeTerminal(["n"], displayed) })
        )
        assert.include(declined.line, "cancelled")
        assert.include(displayed.join(""), `Remove context "a"`)
        assert.include(ok(yield* run(["list"])).out, "a.example.com")

        ok(yield* run(["remove", "a"], { stdin: Stdin.fixed("", { isTTY: true }), terminal: fakeTerminal(["y"]) }))
        assert.notInclude(ok(yield* run(["list"])).out, "a.example.com")
      })
    ))

  it.effect("add --access-token-stdin stores the token; output only ever shows it masked", () =>
    inTempHome((run, dir) =>
      Effect.gen(function*() {
        const added = ok(
          yield* run(["add", "prod", "--url", "https://t.example.com/", "--access-token-stdin", "--scope", "admin"], {
            stdin: Stdin.fixed(`${TOKEN}\n`)
          })
        )
        const stored = JSON.parse(yield* Effect.promise(() => NodeFs.readFile(NodePath.join(dir, "config.json"), "utf8")))
        assert.deepStrictEqual(stored.contexts.prod, { server: "https://t.example.com", accessToken: TOKEN, scope: "admin" })

        const list = ok(yield* run(["list"]))
        const listJson = ok(yield* run(["list", "--json"]))
        const show = ok(yield* run(["show", "prod"]))
        const showJson = ok(yield* run(["show", "prod", "--json"]))
        for (const outcome of [added, list, listJson, show, showJson]) {
          assert.notInclude(outcome.out + outcome.err, TOKEN)
        }
        assert.include(list.out, maskSecret(TOKEN))
        assert.match(list.out, /^CURRENT\s+NAME\s+SERVER\s+TOKEN\s+SCOPE\s+DESCRIPTION$/m)
        assert.match(list.out, /^\*\s+default\s+http:\/\/localhost:7337/m)
        assert.deepStrictEqual(JSON.parse(listJson.out).contexts[1], {
          name: "prod",
          server: "https://t.example.com",
          accessToken: maskSecret(TOKEN),
          scope: "admin",
          description: null,
          active: false
        })
        assert.strictEqual(JSON.parse(listJson.out).currentContext, "default")
        assert.include(show.out, "https://t.example.com")
        assert.strictEqual(JSON.parse(showJson.out).accessToken, maskSecret(TOKEN))
      })
    ))

  it.effect("add rejects a bad token, a bad URL, a bad name and an existing name, saving nothing", () =>
    inTempHome((run) =>
      Effect.gen(function*() {
        const badToken = failed(
          yield* run(["add", "x", "--url", "x.example.com", "--access-token-stdin"], {
            stdin: Stdin.fixed(TOKEN.slice(0, -1) + (TOKEN.endsWith("A") ? "B" : "A"))
          })
        )
        assert.strictEqual(badToken.code, 2)
        assert.include(badToken.line, "checksum")
        const inferenceKey = failed(
          yield* run(["add", "x", "--url", "x.example.com", "--access-token-stdin"], {
            stdin: Stdin.fixed(formatToken("inference", "a".repeat(32)))
          })
        )
        assert.include(inferenceKey.line, "inference key")
        const empty = failed(yield* run(["add", "x", "--url", "x.example.com", "--access-token-stdin"]))
        assert.include(empty.line, "stdin")

        const badUrl = failed(yield* run(["add", "x", "--url", "ftp://x.example.com"]))
        assert.strictEqual(badUrl.code, 2)
        assert.include(badUrl.line, "ftp")
        const badName = failed(yield* run(["add", "-x", "--url", "x.example.com"]))
        assert.notStrictEqual(badName.code, 0)
        const badName2 = failed(yield* run(["add", "x/y", "--url", "x.example.com"]))
        assert.include(badName2.line, "invalid context name")

        assert.deepStrictEqual(JSON.parse(ok(yield* run(["list", "--json"])).out).contexts.length, 1)
        ok(yield* run(["add", "x", "--url", "x.example.com"]))
        const exists = failed(yield* run(["add", "x", "--url", "y.example.com"]))
        assert.include(exists.line, `"x" already exists`)
      })
    ))

  it.effect("default cannot be removed; unknown names are reported", () =>
    inTempHome((run) =>
      Effect.gen(function*() {
        const def = failed(yield* run(["remove", "default", "--yes"]))
        assert.include(def.line, `"default" context cannot be removed`)
        const defNoYes = failed(yield* run(["remove", "default"]))
        assert.include(defNoYes.line, "cannot be removed")
        const unknown = failed(yield* run(["use", "nope"]))
        assert.include(unknown.line, `no context named "nope"`)
        assert.include(unknown.line, "default")
        const unknownRemove = failed(yield* run(["remove", "nope"]))
        assert.include(unknownRemove.line, `no context named "nope"`)
      })
    ))

  it.effect("rename, export (stdout, --out 0600, --no-secrets) and import (--merge or replace)", () =>
    inTempHome((run, dir) =>
      Effect.gen(function*() {
        ok(yield* run(["add", "one", "--url", "one.example.com", "--access-token-stdin"], { stdin: Stdin.fixed(TOKEN) }))
        ok(yield* run(["rename", "one", "uno"]))
        assert.include(ok(yield* run(["list"])).out, "uno")

        const exported = ok(yield* run(["export"]))
        assert.include(exported.out, TOKEN)
        assert.strictEqual(JSON.parse(exported.out).contexts.uno.accessToken, TOKEN)
        const noSecrets = ok(yield* run(["export", "--no-secrets"]))
        assert.notInclude(noSecrets.out, "tat_")

        const outFile = NodePath.join(dir, "exported.json")
        const written = ok(yield* run(["export", "--out", outFile]))
        assert.notInclude(written.out, TOKEN)
        const stat = yield* Effect.promise(() => NodeFs.stat(outFile))
        assert.strictEqual(stat.mode & 0o777, 0o600)
        assert.include(yield* Effect.promise(() => NodeFs.readFile(outFile, "utf8")), TOKEN)

        const incoming = NodePath.join(dir, "incoming.json")
        yield* Effect.promise(() =>
          NodeFs.writeFile(
            incoming,
            JSON.stringify({
              version: 1,
              currentContext: "two",
              contexts: { two: { server: "http://two:1", accessToken: OTHER_TOKEN } }
            })
          )
        )
        const merged = ok(yield* run(["import", incoming, "--merge"]))
        assert.include(merged.out, "Imported 1 context (two)")
        const afterMerge = JSON.parse(ok(yield* run(["list", "--json"])).out)
        assert.deepStrictEqual(afterMerge.contexts.map((c: { name: string }) => c.name), ["default", "two", "uno"])
        assert.strictEqual(afterMerge.currentContext, "default")

        ok(yield* run(["import", incoming]))
        const afterReplace = JSON.parse(ok(yield* run(["list", "--json"])).out)
        assert.deepStrictEqual(afterReplace.contexts.map((c: { name: string }) => c.name), ["default", "two"])
        assert.strictEqual(afterReplace.currentContext, "two")

        // round trip through the exported file
        ok(yield* run(["import", outFile]))
        assert.deepStrictEqual(
          JSON.parse(ok(yield* run(["list", "--json"])).out).contexts.map((c: { name: string }) => c.name),
          ["default", "uno"]
        )

        yield* Effect.promise(() => NodeFs.writeFile(incoming, "{ broken"))
        const corrupt = failed(yield* run(["import", incoming]))
        assert.include(corrupt.line, incoming)
        assert.include(corrupt.line, "not valid JSON")
      })
    ))

  it.effect("a corrupt config file is one clear line naming the file", () =>
    inTempHome((run, dir) =>
      Effect.gen(function*() {
        const path = NodePath.join(dir, "config.json")
        yield* Effect.promise(() => NodeFs.writeFile(path, `{"version":1,"currentContext":"default","contexts":{"x":{"server":7}}}`, { mode: 0o600 }))
        const listed = failed(yield* run(["list"]))
        assert.include(listed.line, path)
        assert.include(listed.line, "contexts.x.server")
        assert.include(listed.line, "will not overwrite")
        failed(yield* run(["add", "y", "--url", "y.example.com"]))
        assert.strictEqual(
          yield* Effect.promise(() => NodeFs.readFile(path, "utf8")),
          `{"version":1,"currentContext":"default","contexts":{"x":{"server":7}}}`
        )
      })
    ))

  it.effect("`tether contexts` alone lists", () =>
    inTempHome((run) =>
      Effect.gen(function*() {
        assert.match(ok(yield* run([])).out, /^\*\s+default\s+http:\/\/localhost:7337/m)
      })
    ))
})

// ---------------------------------------------------------------------------
// Target resolution, through real option parsing

const probe = Command.make("probe", { ...targetOptions }, (options) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(options)
    yield* Console.log(JSON.stringify({
      contextName: target.contextName,
      server: target.server,
      token: Option.getOrNull(Option.map(target.token, Redacted.value)),
      scope: Option.getOrNull(target.scope)
    }))
  }))
const probeCli = Command.run(probe, { name: "tether", version: "0.0.0-test" })

describe("resolveTarget", () => {
  const setUp = (dir: string) =>
    Effect.gen(function*() {
      const repo = yield* ContextRepo
      yield* repo.upsert("prod", { server: "https://prod.example.com", accessToken: TOKEN, scope: "write" }, { activate: true })
      yield* repo.upsert("dev", { server: "dev.example.com" })
      return dir
    }).pipe(Effect.provide(ContextRepo.at(dir)))

  const resolve = (dir: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
    Effect.gen(function*() {
      const out: Array<string> = []
      const current = yield* Effect.console
      const console: Console.Console = { ...current, log: (...xs) => Effect.sync(() => void out.push(xs.join(" "))) }
      const exit = yield* probeCli(["node", "tether", ...args]).pipe(
        Effect.provide(ContextRepo.at(dir)),
        Effect.provide(NodeContext.layer),
        Effect.withConsole(console),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
        Effect.exit
      )
      return Exit.isSuccess(exit)
        ? { ok: true as const, target: JSON.parse(out.join("")) }
        : { ok: false as const, line: renderCliError(exit.cause), code: exitCodeOf(exit.cause) }
    })

  it.effect("precedence: --context, then TETHER_CONTEXT, then the current context; --server/--token override", () =>
    inTempHome((_run, dir) =>
      Effect.gen(function*() {
        yield* setUp(dir)
        assert.deepStrictEqual(yield* resolve(dir, []), {
          ok: true,
          target: { contextName: "prod", server: "https://prod.example.com", token: TOKEN, scope: "write" }
        })
        assert.deepStrictEqual(yield* resolve(dir, [], { TETHER_CONTEXT: "dev" }), {
          ok: true,
          target: { contextName: "dev", server: "http://dev.example.com:7337", token: null, scope: null }
        })
        assert.deepStrictEqual(yield* resolve(dir, ["--context", "default"], { TETHER_CONTEXT: "dev" }), {
          ok: true,
          target: { contextName: "default", server: "http://localhost:7337", token: null, scope: null }
        })
        assert.deepStrictEqual(yield* resolve(dir, ["--server", "10.0.0.5"]), {
          ok: true,
          target: { contextName: "prod", server: "http://10.0.0.5:7337", token: TOKEN, scope: "write" }
        })
        assert.deepStrictEqual(yield* resolve(dir, [], { TETHER_SERVER: "https://other.example.com/x/" }), {
          ok: true,
          target: { contextName: "prod", server: "https://other.example.com/x", token: TOKEN, scope: "write" }
        })
        assert.deepStrictEqual(yield* resolve(dir, ["--token", OTHER_TOKEN]), {
          ok: true,
          target: { contextName: "prod", server: "https://prod.example.com", token: OTHER_TOKEN, scope: null }
        })
        assert.deepStrictEqual(yield* resolve(dir, ["--context", "dev"], { TETHER_TOKEN: OTHER_TOKEN }), {
          ok: true,
          target: { contextName: "dev", server: "http://dev.example.com:7337", token: OTHER_TOKEN, scope: null }
        })
        // blank environment variables count as unset
        assert.deepStrictEqual(yield* resolve(dir, [], { TETHER_CONTEXT: "", TETHER_TOKEN: " " }), {
          ok: true,
          target: { contextName: "prod", server: "https://prod.example.com", token: TOKEN, scope: "write" }
        })
      })
    ))

  it.effect("bad --token, --server or --context give one clear line", () =>
    inTempHome((_run, dir) =>
      Effect.gen(function*() {
        yield* setUp(dir)
        const badToken = yield* resolve(dir, ["--token", "tat_nope"])
        assert.isFalse(badToken.ok)
        if (!badToken.ok) {
          assert.include(badToken.line, "--token")
          assert.include(badToken.line, "malformed")
          assert.strictEqual(badToken.code, 2)
        }
        const badServer = yield* resolve(dir, ["--server", "ftp://x"])
        if (!badServer.ok) assert.include(badServer.line, `invalid server address "ftp://x"`)
        else assert.fail("expected failure")
        const badContext = yield* resolve(dir, [], { TETHER_CONTEXT: "nope" })
        if (!badContext.ok) assert.include(badContext.line, `no context named "nope"`)
        else assert.fail("expected failure")
      })
    ))
})

// ---------------------------------------------------------------------------

describe("renderCliError", () => {
  it("renders every typed error as one line", () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [new CliError({ message: "plain" }), "plain"],
      [new ContextFileCorrupt({ path: "/h/config.json", error: "not valid JSON: x" }), "/h/config.json"],
      [new ContextNotFound({ name: "x", available: ["default"] }), `no context named "x" (known: default)`],
      [new ContextExists({ name: "x" }), `"x" already exists`],
      [new DefaultContextProtected({ operation: "rename" }), "cannot be renamed"],
      [new InvalidContextName({ name: "-", error: "bad" }), `invalid context name "-": bad`],
      [new InvalidServerAddress({ input: "ftp://x", error: "nope" }), `invalid server address "ftp://x": nope`],
      [new InvalidAccessToken({ source: "stdin", reason: "malformed", error: "bad" }), "from stdin: bad"],
      [{ _tag: "Forbidden", error: "scope too weak" }, "scope too weak"],
      [new Error("multi\nline"), "multi line"],
      ["weird", "unexpected error: weird"]
    ]
    for (const [error, expected] of cases) {
      const line = renderCliError(error)
      assert.include(line, expected)
      assert.notInclude(line, "\n")
    }
  })

  it("exit codes: CliError's own, 2 for usage errors, 1 otherwise", () => {
    assert.strictEqual(exitCodeOf(new CliError({ message: "x", exitCode: 3 })), 3)
    assert.strictEqual(exitCodeOf(new CliError({ message: "x" })), 1)
    assert.strictEqual(exitCodeOf(new InvalidServerAddress({ input: "", error: "" })), 2)
    assert.strictEqual(exitCodeOf(new ContextNotFound({ name: "x", available: [] })), 1)
  })

  it("renderCliErrorWith tries extra renderers first", () => {
    const render = renderCliErrorWith((e) => (e === 42 ? "the answer" : undefined))
    assert.strictEqual(render(42), "the answer")
    assert.strictEqual(render(new CliError({ message: "m" })), "m")
  })
})

describe("output helpers", () => {
  it("renderTable aligns columns and says (none) when empty", () => {
    const columns = [
      { header: "NAME", get: (r: { n: string; v: string }) => r.n },
      { header: "VALUE", get: (r: { n: string; v: string }) => r.v }
    ]
    assert.strictEqual(renderTable(columns, []), "(none)")
    assert.strictEqual(
      renderTable(columns, [{ n: "a", v: "1" }, { n: "long-name", v: "two\nlines" }]),
      "NAME       VALUE\na          1\nlong-name  two lines"
    )
  })

  it("formatTime and formatRelative", () => {
    const now = Date.parse("2025-01-31T12:00:00Z")
    assert.strictEqual(formatTime(new Date("2025-01-31T09:05:00.123Z")), "2025-01-31T09:05:00Z")
    assert.strictEqual(formatTime(null), "-")
    assert.strictEqual(formatRelative(now - 10_000, now), "just now")
    assert.strictEqual(formatRelative(now - 5 * 60_000, now), "5m ago")
    assert.strictEqual(formatRelative(now + 3 * 3_600_000, now), "in 3h")
    assert.strictEqual(formatRelative(now - 2 * 86_400_000, now), "2d ago")
    assert.strictEqual(formatRelative(now - 400 * 86_400_000, now), "1y ago")
    assert.strictEqual(formatRelative(undefined, now), "never")
  })
})

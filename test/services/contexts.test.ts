import { describe, it } from "@effect/vitest"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as NodeFs from "node:fs/promises"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { assert } from "vitest"
import {
  type ContextEntry,
  type ContextFile,
  DEFAULT_CONTEXT_NAME,
  decodeContextFile,
  encodeContextFile,
  withDefaultContext
} from "../../src/domain/context-file.js"
import { allScopes } from "../../src/domain/scope.js"
import { DEFAULT_SERVER } from "../../src/domain/server-url.js"
import { formatToken } from "../../src/domain/token-format.js"
import { writeFileAtomic } from "../../src/services/files/atomic-write.js"
import { ContextRepo } from "../../src/services/contexts/ContextRepo.js"

// ---------------------------------------------------------------------------
// Fixtures

const token = (seed: string): string => formatToken("access", seed.padEnd(32, "0").slice(0, 32))
const TOKEN_A = token("aaaaaaaa")
const TOKEN_B = token("bbbbbbbb")

/** Runs `body` against a repository on a fresh temporary TETHER_HOME (removed afterwards). */
const inTempHome = <A, E>(body: (dir: string) => Effect.Effect<A, E, ContextRepo>): Effect.Effect<A, E> =>
  Effect.scoped(
    Effect.acquireRelease(
      Effect.promise(() => NodeFs.mkdtemp(NodePath.join(NodeOs.tmpdir(), "tether-ctx-test-"))),
      (dir) => Effect.promise(() => NodeFs.rm(dir, { recursive: true, force: true }))
    ).pipe(Effect.flatMap((dir) => Effect.provide(body(dir), ContextRepo.at(dir))))
  )

/** A Console whose log/error lines are collected. */
const capturingConsole = Effect.map(Effect.console, (current) => {
  const out: Array<string> = []
  const err: Array<string> = []
  const console: Console.Console = {
    ...current,
    log: (...args) => Effect.sync(() => void out.push(args.map(String).join(" "))),
    error: (...args) => Effect.sync(() => void err.push(args.map(String).join(" ")))
  }
  return { console, out, err } as const
})

const fileMode = (path: string) => Effect.promise(() => NodeFs.stat(path)).pipe(Effect.map((s) => s.mode & 0o777))
const readText = (path: string) => Effect.promise(() => NodeFs.readFile(path, "utf8"))
const writeText = (path: string, text: string, mode = 0o600) =>
  Effect.promise(async () => {
    await NodeFs.mkdir(NodePath.dirname(path), { recursive: true })
    await NodeFs.writeFile(path, text, { mode })
    await NodeFs.chmod(path, mode)
  })
const listDir = (dir: string) => Effect.promise(() => NodeFs.readdir(dir))

const saved = (file: ContextFile) => encodeContextFile(file)

// ---------------------------------------------------------------------------

describe("ContextRepo", () => {
  it.effect("without a file: only `default`, current, and nothing is written", () =>
    inTempHome((dir) =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        assert.strictEqual(repo.path, NodePath.join(dir, "config.json"))
        const file = yield* repo.load
        assert.deepStrictEqual(file, {
          version: 1,
          currentContext: "default",
          contexts: { default: { server: DEFAULT_SERVER } }
        })
        const current = yield* repo.current
        assert.deepStrictEqual(current, { name: "default", context: { server: DEFAULT_SERVER }, active: true })
        assert.deepStrictEqual(yield* listDir(dir), [])
      })
    ))

  it.effect("writes the file with mode 0600, atomically, leaving no temporary files", () =>
    inTempHome((dir) =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        const added = yield* repo.upsert("prod", { server: "Tether.Example.com", accessToken: TOKEN_A, scope: "admin" })
        assert.deepStrictEqual(added, {
          name: "prod",
          context: { server: "http://tether.example.com:7337", accessToken: TOKEN_A, scope: "admin" },
          active: false
        })
        assert.strictEqual(yield* fileMode(repo.path), 0o600)
        // Many concurrent writers in this process: none is lost, no temp file is left behind.
        yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => `ctx-${i}`),
          (name) => repo.upsert(name, { server: `http://h${name}:1` }),
          { concurrency: "unbounded", discard: true }
        )
        assert.deepStrictEqual(yield* listDir(dir), ["config.json"])
        const file = yield* repo.load
        assert.strictEqual(Object.keys(file.contexts).length, 22)
        assert.strictEqual(yield* fileMode(repo.path), 0o600)
      })
    ))

  it.effect("tightens a looser file to 0600 and warns on stderr", () =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        yield* writeText(
          repo.path,
          saved({ version: 1, currentContext: "default", contexts: { x: { server: "http://x:1" } } }),
          0o644
        )
        const { console, err } = yield* capturingConsole
        const file = yield* Effect.withConsole(repo.load, console)
        assert.deepStrictEqual(Object.keys(file.contexts).sort(), ["default", "x"])
        assert.strictEqual(yield* fileMode(repo.path), 0o600)
        assert.strictEqual(err.length, 1)
        assert.include(err[0], repo.path)
        assert.include(err[0], "0644")
        assert.include(err[0], "0600")
        assert.match(err[0] ?? "", /^warning: /)
        // Once tightened, no more warnings.
        yield* Effect.withConsole(repo.load, console)
        assert.strictEqual(err.length, 1)
      })
    ))

  it.effect("a corrupt file is reported with its path and cause, and never overwritten", () =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        for (const garbage of ["{ not json", `{"version":1,"currentContext":"default","contexts":{"x":{}}}`]) {
          yield* writeText(repo.path, garbage)
          const before = yield* Effect.promise(() => NodeFs.stat(repo.path))
          const loaded = yield* Effect.flip(repo.load)
          assert.strictEqual(loaded._tag, "ContextFileCorrupt")
          assert.strictEqual(loaded.path, repo.path)
          assert.include(loaded.message, repo.path)
          const written = yield* Effect.flip(repo.upsert("y", { server: "http://y:1" }))
          assert.strictEqual(written._tag, "ContextFileCorrupt")
          assert.strictEqual(yield* Effect.flip(repo.use("default")).pipe(Effect.map((e) => e._tag)), "ContextFileCorrupt")
          assert.strictEqual(yield* Effect.flip(repo.remove("x")).pipe(Effect.map((e) => e._tag)), "ContextFileCorrupt")
          assert.strictEqual(yield* readText(repo.path), garbage)
          const after = yield* Effect.promise(() => NodeFs.stat(repo.path))
          assert.strictEqual(after.mtimeMs, before.mtimeMs)
        }
        const notJson = yield* writeText(repo.path, "{ not json").pipe(Effect.zipRight(Effect.flip(repo.load)))
        assert.include(notJson.error, "not valid JSON")
      })
    ))

  it.effect("keeps unknown keys through read-modify-write", () =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        yield* writeText(
          repo.path,
          JSON.stringify({
            version: 1,
            currentContext: "default",
            futureTopLevel: { nested: [1, 2] },
            contexts: { x: { server: "http://x:1", color: "blue" } }
          })
        )
        yield* repo.upsert("y", { server: "http://y:1" })
        yield* repo.rename("x", "z")
        const json = JSON.parse(yield* readText(repo.path))
        assert.deepStrictEqual(json.futureTopLevel, { nested: [1, 2] })
        assert.deepStrictEqual(json.contexts.z, { server: "http://x:1", color: "blue" })
      })
    ))

  it.effect("get / use / current, with typed errors for unknown and invalid names", () =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        yield* repo.upsert("prod", { server: "http://prod:1" })
        const notFound = yield* Effect.flip(repo.get("nope"))
        assert.strictEqual(notFound._tag, "ContextNotFound")
        if (notFound._tag === "ContextNotFound") assert.deepStrictEqual(notFound.available, ["default", "prod"])
        assert.strictEqual((yield* Effect.flip(repo.use("nope")))._tag, "ContextNotFound")
        assert.strictEqual((yield* Effect.flip(repo.get("-bad")))._tag, "InvalidContextName")
        assert.strictEqual((yield* Effect.flip(repo.upsert("a b", { server: "http://x:1" })))._tag, "InvalidContextName")
        assert.strictEqual((yield* Effect.flip(repo.upsert("ok", { server: "ftp://x" })))._tag, "InvalidServerAddress")

        const used = yield* repo.use("prod")
        assert.isTrue(used.active)
        assert.strictEqual((yield* repo.current).name, "prod")
        assert.strictEqual((yield* repo.get("default")).active, false)
      })
    ))

  it.effect("upsert: activate, overwrite, or fail with ContextExists", () =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        yield* repo.upsert("a", { server: "http://a:1" }, { activate: true })
        assert.strictEqual((yield* repo.current).name, "a")
        yield* repo.upsert("a", { server: "http://a:2", accessToken: TOKEN_A })
        assert.deepStrictEqual((yield* repo.get("a")).context, { server: "http://a:2", accessToken: TOKEN_A })
        const exists = yield* Effect.flip(repo.upsert("a", { server: "http://a:3" }, { overwrite: false }))
        assert.strictEqual(exists._tag, "ContextExists")
        assert.strictEqual((yield* repo.get("a")).context.server, "http://a:2")
        // default may be updated (e.g. to hold a token for the local server)
        yield* repo.upsert("default", { server: DEFAULT_SERVER, accessToken: TOKEN_B })
        assert.strictEqual((yield* repo.get("default")).context.accessToken, TOKEN_B)
      })
    ))

  it.effect("default cannot be removed or renamed", () =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        const removed = yield* Effect.flip(repo.remove(DEFAULT_CONTEXT_NAME))
        assert.strictEqual(removed._tag, "DefaultContextProtected")
        const renamed = yield* Effect.flip(repo.rename(DEFAULT_CONTEXT_NAME, "local"))
        assert.strictEqual(renamed._tag, "DefaultContextProtected")
        // and nothing may take its name
        yield* repo.upsert("x", { server: "http://x:1" })
        assert.strictEqual((yield* Effect.flip(repo.rename("x", DEFAULT_CONTEXT_NAME)))._tag, "ContextExists")
        assert.deepStrictEqual(Object.keys((yield* repo.load).contexts).sort(), ["default", "x"])
      })
    ))

  it.effect("removing the active context falls back to default", () =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        yield* repo.upsert("prod", { server: "http://prod:1" }, { activate: true })
        yield* repo.upsert("dev", { server: "http://dev:1" })
        const result = yield* repo.remove("prod")
        assert.strictEqual(result.removed.name, "prod")
        assert.isTrue(result.removed.active)
        assert.strictEqual(result.currentContext, "default")
        assert.strictEqual((yield* repo.current).name, "default")
        // removing an inactive one leaves the current alone
        yield* repo.use("dev")
        yield* repo.upsert("tmp", { server: "http://tmp:1" })
        assert.strictEqual((yield* repo.remove("tmp")).currentContext, "dev")
        assert.strictEqual((yield* Effect.flip(repo.remove("tmp")))._tag, "ContextNotFound")
      })
    ))

  it.effect("rename keeps the entry and follows the current context", () =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        yield* repo.upsert("old", { server: "http://o:1", accessToken: TOKEN_A }, { activate: true })
        yield* repo.upsert("other", { server: "http://x:1" })
        const renamed = yield* repo.rename("old", "new")
        assert.deepStrictEqual(renamed, { name: "new", context: { server: "http://o:1", accessToken: TOKEN_A }, active: true })
        assert.strictEqual((yield* repo.current).name, "new")
        assert.strictEqual((yield* Effect.flip(repo.get("old")))._tag, "ContextNotFound")
        assert.strictEqual((yield* Effect.flip(repo.rename("new", "other")))._tag, "ContextExists")
        assert.strictEqual((yield* Effect.flip(repo.rename("missing", "m2")))._tag, "ContextNotFound")
        assert.strictEqual((yield* Effect.flip(repo.rename("new", "bad name")))._tag, "InvalidContextName")
      })
    ))

  it.effect("a currentContext naming a missing context is reported, not guessed", () =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        yield* writeText(repo.path, saved({ version: 1, currentContext: "gone", contexts: {} }))
        const error = yield* Effect.flip(repo.current)
        assert.strictEqual(error._tag, "ContextNotFound")
        yield* repo.use("default")
        assert.strictEqual((yield* repo.current).name, "default")
      })
    ))

  it.effect("export with and without secrets", () =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        yield* repo.upsert("a", { server: "http://a:1", accessToken: TOKEN_A, scope: "write" }, { activate: true })
        yield* repo.upsert("b", { server: "http://b:1", accessToken: TOKEN_B, description: "bee" })

        const withSecrets = yield* repo.exportContexts({ noSecrets: false })
        assert.include(withSecrets, TOKEN_A)
        assert.include(withSecrets, TOKEN_B)
        assert.deepStrictEqual(Either.getOrThrow(decodeContextFile(withSecrets)), yield* repo.load)

        const without = yield* repo.exportContexts({ noSecrets: true })
        assert.notInclude(without, "tat_")
        const file = Either.getOrThrow(decodeContextFile(without))
        assert.strictEqual(file.currentContext, "a")
        assert.deepStrictEqual(file.contexts.a, { server: "http://a:1", scope: "write" })
        assert.deepStrictEqual(file.contexts.b, { server: "http://b:1", description: "bee" })
      })
    ))

  it.effect("import: merge adds and overwrites by name; replace keeps only the import and default", () =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        const setUp = Effect.gen(function*() {
          yield* repo.importContexts(
            saved({
              version: 1,
              currentContext: "mine",
              contexts: {
                default: { server: DEFAULT_SERVER, accessToken: TOKEN_A },
                mine: { server: "http://mine:1" },
                shared: { server: "http://shared-old:1" }
              }
            }),
            { merge: false }
          )
        })
        const incoming = saved({
          version: 1,
          currentContext: "theirs",
          contexts: { shared: { server: "http://shared-new:1" }, theirs: { server: "http://theirs:1" } }
        })

        yield* setUp
        const merged = yield* repo.importContexts(incoming, { merge: true })
        assert.deepStrictEqual(merged, { imported: ["shared", "theirs"], currentContext: "mine" })
        const afterMerge = yield* repo.load
        assert.deepStrictEqual(Object.keys(afterMerge.contexts).sort(), ["default", "mine", "shared", "theirs"])
        assert.strictEqual(afterMerge.contexts.shared?.server, "http://shared-new:1")
        assert.strictEqual(afterMerge.contexts.default?.accessToken, TOKEN_A)
        assert.strictEqual(afterMerge.currentContext, "mine")

        yield* setUp
        const replaced = yield* repo.importContexts(incoming, { merge: false })
        assert.deepStrictEqual(replaced, { imported: ["shared", "theirs"], currentContext: "theirs" })
        const afterReplace = yield* repo.load
        assert.deepStrictEqual(Object.keys(afterReplace.contexts).sort(), ["default", "shared", "theirs"])
        // the existing default is kept (with its token) when the import does not define one
        assert.deepStrictEqual(afterReplace.contexts.default, { server: DEFAULT_SERVER, accessToken: TOKEN_A })

        // a bad import is reported with its source and changes nothing
        const before = yield* readText(repo.path)
        const bad = yield* Effect.flip(repo.importContexts("{nope", { merge: true, source: "/tmp/in.json" }))
        assert.strictEqual(bad._tag, "ContextFileCorrupt")
        assert.strictEqual(bad.path, "/tmp/in.json")
        assert.strictEqual(yield* readText(repo.path), before)
      })
    ))

  it.effect("ContextRepo.Test is a working repository on a throwaway home", () =>
    Effect.gen(function*() {
      const repo = yield* ContextRepo
      yield* repo.upsert("t", { server: "http://t:1" }, { activate: true })
      assert.strictEqual((yield* repo.current).name, "t")
    }).pipe(Effect.provide(ContextRepo.Test)))
})

// ---------------------------------------------------------------------------
// Property: what is written is what is read back

const contextName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/)
const server = fc
  .tuple(fc.constantFrom("http", "https"), fc.constantFrom("localhost", "10.0.0.5", "[::1]", "tether.example.com"), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
  .map(([scheme, host, port]) => `${scheme}://${host}${port === undefined ? "" : `:${port}`}`)
const entry: fc.Arbitrary<ContextEntry> = fc.record(
  {
    server,
    accessToken: fc.stringMatching(/^[0-9A-Za-z]{32}$/).map((random) => formatToken("access", random)),
    scope: fc.constantFrom(...allScopes),
    description: fc.string({ maxLength: 40 })
  },
  { requiredKeys: ["server"] }
)
const contextFile: fc.Arbitrary<ContextFile> = fc.dictionary(contextName, entry, { maxKeys: 5 }).chain((contexts) =>
  fc.record({
    version: fc.constant(1 as const),
    currentContext: fc.constantFrom(DEFAULT_CONTEXT_NAME, ...Object.keys(contexts)),
    contexts: fc.constant({ ...contexts })
  })
)

describe("ContextRepo properties", () => {
  it.effect.prop("a file written (atomically) then loaded is equal, with default added", [contextFile], ([file]) =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        yield* writeFileAtomic(repo.path, encodeContextFile(file))
        assert.deepStrictEqual(yield* repo.load, withDefaultContext(file))
        assert.strictEqual(yield* fileMode(repo.path), 0o600)
      })
    ), { fastCheck: { numRuns: 30 } })

  it.effect.prop("import (replace) then export gives the same contexts back", [contextFile], ([file]) =>
    inTempHome(() =>
      Effect.gen(function*() {
        const repo = yield* ContextRepo
        yield* repo.importContexts(encodeContextFile(file), { merge: false })
        const exported = Either.getOrThrow(decodeContextFile(yield* repo.exportContexts({ noSecrets: false })))
        assert.deepStrictEqual(exported, withDefaultContext(file))
      })
    ), { fastCheck: { numRuns: 30 } })
})

import { describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import { assert } from "vitest"
import {
  type ContextEntry,
  type ContextFile,
  ContextFileCorrupt,
  contextNameProblem,
  decodeContextFile,
  DEFAULT_CONTEXT_NAME,
  emptyContextFile,
  encodeContextFile,
  isContextName,
  stripSecrets,
  withDefaultContext
} from "../../src/domain/context-file.js"
import { allScopes } from "../../src/domain/scope.js"
import { DEFAULT_SERVER } from "../../src/domain/server-url.js"
import { formatToken } from "../../src/domain/token-format.js"

// ---------------------------------------------------------------------------
// Arbitraries (test/services/contexts.test.ts has the same ones)

const contextName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/)
const server = fc
  .tuple(
    fc.constantFrom("http", "https"),
    fc.oneof(fc.constantFrom("localhost", "127.0.0.1", "[::1]"), fc.domain()),
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    fc.constantFrom("", "/tether", "/a/b")
  )
  .map(([scheme, host, port, path]) => `${scheme}://${host}${port === undefined ? "" : `:${port}`}${path}`)
  .filter((url) => {
    try {
      return new URL(url).hostname !== ""
    } catch {
      return false
    }
  })
const accessToken = fc.stringMatching(/^[0-9A-Za-z]{32}$/).map((random) => formatToken("access", random))
const entry: fc.Arbitrary<ContextEntry> = fc.record(
  { server, accessToken, scope: fc.constantFrom(...allScopes), description: fc.string({ maxLength: 40 }) },
  { requiredKeys: ["server"] }
)
const contextFile: fc.Arbitrary<ContextFile> = fc
  .dictionary(contextName, entry, { maxKeys: 6 })
  .chain((contexts) =>
    fc.record({
      version: fc.constant(1 as const),
      currentContext: fc.constantFrom(DEFAULT_CONTEXT_NAME, ...Object.keys(contexts)),
      contexts: fc.constant({ ...contexts })
    })
  )

const knownTop = ["version", "currentContext", "contexts"]
const knownEntry = ["server", "accessToken", "scope", "description"]
const extraKeys = (known: ReadonlyArray<string>) =>
  fc.dictionary(
    fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !known.includes(k) && k !== "__proto__"),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 3 }
  ).map((extras) => ({ ...extras }))

const decoded = (text: string): ContextFile => {
  const result = decodeContextFile(text)
  if (Either.isLeft(result)) return assert.fail(`expected a valid file, got: ${result.left}`)
  return result.right
}

const decodeError = (text: string): string => {
  const result = decodeContextFile(text)
  if (Either.isRight(result)) return assert.fail("expected the file to be rejected")
  return result.left
}

/** Through JSON and back: what a JSON file can represent (-0 → 0 and so on). */
const viaJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

describe("context names", () => {
  it("accepts 1 to 63 characters of [A-Za-z0-9][A-Za-z0-9._-]*", () => {
    for (const name of ["a", "default", "prod-eu.1", "A_b", "9", "x".repeat(63), "constructor"]) {
      assert.isTrue(isContextName(name), name)
    }
  })

  it("rejects empty, too long, bad first character or other characters", () => {
    for (const name of ["", "x".repeat(64), "-a", ".a", "_a", "a b", "a/b", "é", "__proto__", "a:b"]) {
      assert.isFalse(isContextName(name), name)
      assert.isString(contextNameProblem(name))
    }
  })
})

describe("context file codec", () => {
  it.prop("decode ∘ encode is the identity", [contextFile], ([file]) => {
    assert.deepStrictEqual(decoded(encodeContextFile(file)), file)
  })

  it.prop("encoding is stable: encode ∘ decode ∘ encode = encode", [contextFile], ([file]) => {
    const text = encodeContextFile(file)
    assert.strictEqual(encodeContextFile(decoded(text)), text)
  })

  it.prop(
    "unknown keys survive a round trip, at the top level and in each context",
    [contextFile, extraKeys(knownTop), extraKeys(knownEntry)],
    ([file, topExtras, entryExtras]) => {
      const contexts = Object.fromEntries(
        Object.entries(file.contexts).map(([name, e]) => [name, { ...entryExtras, ...e }])
      )
      const raw = { ...topExtras, ...file, contexts }
      const roundTripped = JSON.parse(encodeContextFile(decoded(JSON.stringify(raw))))
      assert.deepStrictEqual(roundTripped, viaJson(raw))
    }
  )

  it("writes 2-space JSON, known keys first, with a trailing newline", () => {
    const text = encodeContextFile({
      ...emptyContextFile,
      contexts: { default: { server: DEFAULT_SERVER }, b: { description: "d", server: "http://b:1" } as ContextEntry }
    })
    assert.strictEqual(
      text,
      `{
  "version": 1,
  "currentContext": "default",
  "contexts": {
    "default": {
      "server": "http://localhost:7337"
    },
    "b": {
      "server": "http://b:1",
      "description": "d"
    }
  }
}
`
    )
  })

  it("reports why a file is corrupt, in one line", () => {
    assert.include(decodeError("{"), "not valid JSON")
    assert.include(decodeError(""), "not valid JSON")
    assert.include(decodeError("[]"), "Expected")
    assert.include(decodeError(`{"version":2,"currentContext":"default","contexts":{}}`), "version")
    const badName = decodeError(`{"version":1,"currentContext":"default","contexts":{"-x":{"server":"http://a"}}}`)
    assert.include(badName, "contexts.-x")
    assert.include(badName, "invalid context name")
    const badServer = decodeError(
      `{"version":1,"currentContext":"default","contexts":{"x":{"server":"ftp://a"}}}`
    )
    assert.include(badServer, "contexts.x.server")
    assert.include(badServer, "scheme")
    assert.include(
      decodeError(`{"version":1,"currentContext":"default","contexts":{"x":{"server":"http://a","scope":"root"}}}`),
      "contexts.x.scope"
    )
    for (const text of ["{", `{"version":1}`, `{"version":1,"currentContext":"-","contexts":{}}`]) {
      assert.notInclude(decodeError(text), "\n")
    }
  })

  it("ContextFileCorrupt names the path and the cause", () => {
    const error = new ContextFileCorrupt({ path: "/home/u/.tether/config.json", error: "not valid JSON: oops" })
    assert.include(error.message, "/home/u/.tether/config.json")
    assert.include(error.message, "not valid JSON: oops")
  })

  it("withDefaultContext adds default only when missing", () => {
    const file: ContextFile = { version: 1, currentContext: "x", contexts: { x: { server: "http://x:1" } } }
    assert.deepStrictEqual(withDefaultContext(file).contexts, {
      default: { server: DEFAULT_SERVER },
      x: { server: "http://x:1" }
    })
    const custom: ContextFile = { ...file, contexts: { default: { server: "http://other:1" } } }
    assert.strictEqual(withDefaultContext(custom), custom)
  })

  it.prop("stripSecrets removes every token and nothing else", [contextFile], ([file]) => {
    const stripped = stripSecrets(file)
    assert.notInclude(encodeContextFile(stripped), "tat_")
    assert.deepStrictEqual(Object.keys(stripped.contexts), Object.keys(file.contexts))
    for (const [name, e] of Object.entries(file.contexts)) {
      const { accessToken: _token, ...rest } = e
      assert.deepStrictEqual(stripped.contexts[name], rest)
    }
  })
})

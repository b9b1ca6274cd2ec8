/**
 * Properties of every client writer, over random catalogs, start models,
 * provider ids and existing files full of the user's own keys:
 *  - merging keeps every foreign key with its value;
 *  - running twice is idempotent (the second plan changes nothing);
 *  - the inference key never appears in any output, unless the client can
 *    only hold a literal key and the caller passed it (`--write-key`), in
 *    which case the files holding it are flagged and get mode 0600.
 */
import * as Toml from "@decimalturn/toml-patch"
import { describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Jsonc from "jsonc-parser/lib/esm/main.js"
import * as Yaml from "yaml"
import { assert } from "vitest"
import { formatToken } from "../../../src/domain/token-format.js"
import { clientWriters } from "../../../src/services/config-writer/clients/index.js"
import type { ClientWriter, WriterInput } from "../../../src/services/config-writer/model.js"

type Format = "json" | "yaml" | "toml" | "dotenv"

const formatOf = (path: string): Format =>
  path.endsWith(".toml") ? "toml" : /\.ya?ml$/.test(path) ? "yaml" : path.endsWith(".env") ? "dotenv" : "json"

const serialize = (format: Format, value: Record<string, unknown>): string => {
  switch (format) {
    case "json":
      return JSON.stringify(value, null, 2) + "\n"
    case "yaml":
      return Yaml.stringify(value)
    case "toml":
      return Toml.stringify(value)
    case "dotenv":
      return Object.entries(value).map(([k, v]) => `${k.toUpperCase()}=${String(typeof v === "object" ? "x" : v)}`).join("\n") + "\n"
  }
}

const parse = (format: Format, text: string): Record<string, unknown> => {
  switch (format) {
    case "json":
      return Jsonc.parse(text, [], { allowTrailingComma: true }) as Record<string, unknown>
    case "yaml":
      return (Yaml.parse(text) ?? {}) as Record<string, unknown>
    case "toml":
      return Toml.parse(text, { integersAsBigInt: false }) as Record<string, unknown>
    case "dotenv":
      return Object.fromEntries(text.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")).toLowerCase(), l.slice(l.indexOf("=") + 1)]))
  }
}

/** Keys that cannot collide with anything a writer sets. */
const foreignKey = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/).map((k) => `zz_${k}`)
const scalar = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9 ./:_-]{0,16}$/),
  fc.integer({ min: 0, max: 1_000_000 }),
  fc.boolean()
)
const foreign = fc.dictionary(
  foreignKey,
  fc.oneof(scalar, fc.dictionary(foreignKey, scalar, { maxKeys: 3 })),
  { minKeys: 1, maxKeys: 5 }
)

const segment = fc.stringMatching(/^[a-z][a-z0-9.-]{0,9}$/)
const models = fc.uniqueArray(
  fc.record({
    id: fc.tuple(segment, segment).map(([a, b]) => `${a}/${b}`),
    contextWindow: fc.option(fc.integer({ min: 1024, max: 2_000_000 }), { nil: null }),
    maxOutputTokens: fc.option(fc.integer({ min: 256, max: 200_000 }), { nil: null })
  }),
  { minLength: 1, maxLength: 4, selector: (m) => m.id }
).map((list) => list.map((m) => ({ ...m, ownedBy: m.id.split("/")[0] ?? "" })))

const secret = fc.stringMatching(/^[A-Za-z0-9]{32}$/).map((random) => formatToken("inference", random))

const scenario = fc.record({
  models,
  pickModel: fc.boolean(),
  port: fc.integer({ min: 1, max: 65535 }),
  providerId: fc.constantFrom("tether", "work", "gw-2", "t_1"),
  foreign,
  secret,
  passKey: fc.boolean()
})


const check = (writer: ClientWriter) =>
  fc.assert(
    fc.property(scenario, (s) => {
      const input: WriterInput = {
        serverUrl: `http://127.0.0.1:${s.port}`,
        models: s.models,
        providerId: s.providerId,
        providerName: `Tether ${s.providerId}`,
        keyEnv: "TETHER_API_KEY",
        model: s.pickModel ? s.models[0]?.id : undefined,
        literalKey: s.passKey ? s.secret : undefined,
        paths: { home: "/home/u", tetherHome: "/home/u/.tether" }
      }
      const files = new Map<string, string>()
      for (const path of writer.paths(input)) files.set(path, serialize(formatOf(path), s.foreign))
      const plan = writer.plan(input, (p) => files.get(p))

      for (const file of plan.files) {
        const format = formatOf(file.path)
        // 1. foreign keys survive with their values
        const parsed = parse(format, file.content)
        const original = parse(format, files.get(file.path) ?? "")
        for (const [key, value] of Object.entries(original)) {
          assert.deepStrictEqual(parsed[key], value, `${writer.id}: ${file.path} lost ${key}`)
        }
        // 3. the secret only where allowed, and then protected
        const containsSecret = file.content.includes(s.secret)
        if (writer.keyHandling !== "literal" || !s.passKey) {
          assert.isFalse(containsSecret, `${writer.id}: ${file.path} contains the key`)
        }
        if (containsSecret) {
          assert.isTrue(file.holdsSecret, `${writer.id}: ${file.path} holds the key unflagged`)
          assert.strictEqual(file.mode, 0o600)
        }
      }
      for (const line of [...plan.notes, ...plan.usage]) assert.notInclude(line, s.secret)

      // 2. idempotent
      const after = new Map(files)
      for (const file of plan.files) after.set(file.path, file.content)
      const again = writer.plan(input, (p) => after.get(p))
      for (const file of again.files) assert.strictEqual(file.content, after.get(file.path), `${writer.id}: second run changed ${file.path}`)
    }),
    { numRuns: 60 }
  )

describe("config writers (properties)", () => {
  for (const writer of clientWriters) {
    it(`${writer.id}: keeps foreign keys, is idempotent, never leaks the key`, () => check(writer))
  }
})

/**
 * Golden files for every client writer: `test/fixtures/config-writer/<cli>/<case>/`
 * holds the files before (`before/`, relative to a fake home) and the exact
 * expected result (`after/` and `plan.txt`: modes, notes, usage). Cases:
 * `fresh` (no files; no key) and `merge` (the user's own files; with
 * `--write-key` for clients that only hold literal keys). Every case is also
 * run a second time on its own output, which must change nothing.
 *
 * Regenerate after an intended change with `UPDATE_GOLDEN=1` and review the diff.
 */
import { describe, it } from "@effect/vitest"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { assert } from "vitest"
import { formatToken } from "../../../src/domain/token-format.js"
import { clientCatalog } from "../../../src/services/config-writer/clients/catalog.js"
import { clientWriters } from "../../../src/services/config-writer/clients/index.js"
import type { ClientWriter, WriterInput } from "../../../src/services/config-writer/model.js"

const FIXTURES = NodePath.resolve(__dirname, "../../fixtures/config-writer")
const HOME = "/home/user"
export const GOLDEN_KEY = formatToken("inference", "G".repeat(32))

export const goldenInput = (overrides: Partial<WriterInput> = {}): WriterInput => ({
  serverUrl: "http://tether.test:7337",
  models: [
    { id: "anthropic/claude-sonnet-4.5", ownedBy: "anthropic", contextWindow: 200_000, maxOutputTokens: 64_000 },
    { id: "openai/gpt-5", ownedBy: "openai", contextWindow: null, maxOutputTokens: null }
  ],
  providerId: "tether",
  providerName: "Tether",
  keyEnv: "TETHER_API_KEY",
  model: "anthropic/claude-sonnet-4.5",
  paths: { home: HOME, tetherHome: `${HOME}/.tether` },
  ...overrides
})

const listFiles = (dir: string): Array<string> =>
  NodeFs.existsSync(dir)
    ? NodeFs.readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => NodePath.relative(dir, NodePath.join(e.parentPath, e.name)))
      .sort()
    : []

const runCase = (writer: ClientWriter, caseName: "fresh" | "merge") => {
  const caseDir = NodePath.join(FIXTURES, writer.id, caseName)
  const before = new Map<string, string>()
  for (const rel of listFiles(NodePath.join(caseDir, "before"))) {
    before.set(NodePath.join(HOME, rel), NodeFs.readFileSync(NodePath.join(caseDir, "before", rel), "utf8"))
  }
  const input = goldenInput(
    caseName === "merge" && writer.keyHandling === "literal" ? { literalKey: GOLDEN_KEY } : {}
  )
  const plan = writer.plan(input, (path) => before.get(path))
  const summary = [
    ...plan.files.map((f) =>
      `file ${NodePath.relative(HOME, f.path)} mode ${f.mode.toString(8)}${f.holdsSecret ? " secret" : ""}${
        before.get(f.path) === f.content ? " unchanged" : ""
      }`
    ),
    ...plan.notes.map((n) => `note ${n}`),
    ...plan.usage.map((u) => `usage ${u}`)
  ].join("\n") + "\n"

  if (process.env["UPDATE_GOLDEN"] === "1") {
    NodeFs.rmSync(NodePath.join(caseDir, "after"), { recursive: true, force: true })
    for (const f of plan.files) {
      const out = NodePath.join(caseDir, "after", NodePath.relative(HOME, f.path))
      NodeFs.mkdirSync(NodePath.dirname(out), { recursive: true })
      NodeFs.writeFileSync(out, f.content)
    }
    NodeFs.mkdirSync(caseDir, { recursive: true })
    NodeFs.writeFileSync(NodePath.join(caseDir, "plan.txt"), summary)
  }

  assert.strictEqual(summary, NodeFs.readFileSync(NodePath.join(caseDir, "plan.txt"), "utf8"), "plan summary")
  const expectedFiles = listFiles(NodePath.join(caseDir, "after"))
  assert.deepStrictEqual(plan.files.map((f) => NodePath.relative(HOME, f.path)).sort(), expectedFiles)
  for (const f of plan.files) {
    const expected = NodeFs.readFileSync(NodePath.join(caseDir, "after", NodePath.relative(HOME, f.path)), "utf8")
    assert.strictEqual(f.content, expected, `${writer.id}/${caseName}: ${f.path}`)
  }

  // Idempotent: planning again on the result changes nothing.
  const after = new Map(before)
  for (const f of plan.files) after.set(f.path, f.content)
  const again = writer.plan(input, (path) => after.get(path))
  for (const f of again.files) assert.strictEqual(f.content, after.get(f.path), `second run changed ${f.path}`)
}

describe("config writers (golden files)", () => {
  for (const writer of clientWriters) {
    it(`${writer.id}: fresh`, () => runCase(writer, "fresh"))
    it(`${writer.id}: merge into the user's files`, () => runCase(writer, "merge"))
  }

  it("the CLI's light catalog names exactly these writers", () => {
    assert.deepStrictEqual(clientCatalog, clientWriters.map((w) => ({ id: w.id, displayName: w.displayName })))
  })

  it("covers the twelve clients of the issue", () => {
    assert.deepStrictEqual(
      clientWriters.map((w) => w.id).sort(),
      ["aider", "claude", "cline", "codex", "continue", "crush", "cursor", "goose", "kilo", "opencode", "qwen", "roo"]
    )
  })
})

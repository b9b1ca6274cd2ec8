/**
 * Minimal edits to TOML text through `@decimalturn/toml-patch`: the document
 * is parsed to a plain object, changed, and patched back so comments and the
 * layout of untouched tables survive. Unchanged values leave the text as is.
 */
import * as Toml from "@decimalturn/toml-patch"
import { UnreadableConfig } from "../model.js"
import { jsonEqual } from "./json.js"

type TomlTable = Record<string, unknown>

const BARE_KEY = /^[A-Za-z0-9_-]+$/
const quoteKey = (key: string): string => (BARE_KEY.test(key) ? key : JSON.stringify(key))

const parseTable = (path: string, text: string): TomlTable => {
  try {
    const parsed: unknown = Toml.parse(text, { integersAsBigInt: false })
    return typeof parsed === "object" && parsed !== null ? (parsed as TomlTable) : {}
  } catch (error) {
    throw new UnreadableConfig(path, `invalid TOML (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`)
  }
}

export class TomlEditor {
  private value: TomlTable
  /** The text patched at the end: the original plus any table headers appended by `ensureTable`. */
  private source: string
  private changed = false

  constructor(readonly path: string, private readonly original: string) {
    this.value = parseTable(path, original)
    this.source = original
  }

  /**
   * Makes sure `[a.b]` exists as a section of its own, appended at the end
   * when missing (so it sits with sibling `[a.x]` sections rather than
   * becoming a dotted key at the top).
   */
  ensureTable(path: ReadonlyArray<string>): this {
    if (this.get(path) !== undefined) return this
    const trimmed = this.source.replace(/\n*$/, "")
    this.source = `${trimmed}${trimmed === "" ? "" : "\n\n"}[${path.map(quoteKey).join(".")}]\n`
    this.value = parseTable(this.path, this.source)
    this.changed = true
    return this
  }

  get(path: ReadonlyArray<string>): unknown {
    let current: unknown = this.value
    for (const key of path) {
      if (typeof current !== "object" || current === null) return undefined
      current = (current as TomlTable)[key]
    }
    return current
  }

  set(path: ReadonlyArray<string>, value: unknown): this {
    if (jsonEqual(this.get(path), value)) return this
    let table = this.value
    for (const key of path.slice(0, -1)) {
      const next = table[key]
      if (typeof next !== "object" || next === null || Array.isArray(next)) table[key] = {}
      table = table[key] as TomlTable
    }
    const last = path[path.length - 1]
    if (last !== undefined) table[last] = value
    this.changed = true
    return this
  }

  get text(): string {
    if (!this.changed) return this.original
    // Tables two levels deep (`[model_providers.tether]`) become sections, deeper ones inline.
    const patched = Toml.patch(this.source, this.value, { inlineTableStart: 2 })
    // A new file: no runs of blank lines left over from the appended headers.
    const out = this.original.trim() === "" ? patched.replace(/^\n+/, "").replace(/\n{3,}/g, "\n\n") : patched
    return out.endsWith("\n") ? out : `${out}\n`
  }
}

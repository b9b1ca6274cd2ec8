/**
 * Minimal edits to YAML text through the `yaml` Document API: values are set
 * only when they differ, so comments, key order and untouched nodes survive
 * and a second run changes nothing.
 */
import * as Yaml from "yaml"
import { UnreadableConfig } from "../model.js"
import { jsonEqual } from "./json.js"

export class YamlEditor {
  private readonly doc: Yaml.Document
  private changed = false

  constructor(readonly path: string, private readonly original: string) {
    this.doc = Yaml.parseDocument(original, { keepSourceTokens: false })
    const first = this.doc.errors[0]
    if (first !== undefined) throw new UnreadableConfig(path, `invalid YAML (${first.message.split("\n")[0] ?? first.code})`)
    const contents = this.doc.contents
    if (contents === null || (Yaml.isScalar(contents) && (contents.value === null || contents.value === ""))) {
      this.doc.contents = this.doc.createNode({}) as Yaml.Document["contents"]
    } else if (!Yaml.isMap(contents)) {
      throw new UnreadableConfig(path, "the top level is not a YAML mapping")
    }
  }

  get(path: ReadonlyArray<string | number>): unknown {
    const node: unknown = this.doc.getIn(path, false)
    return Yaml.isNode(node) ? node.toJSON() : node
  }

  set(path: ReadonlyArray<string | number>, value: unknown): this {
    if (jsonEqual(this.get(path), value)) return this
    this.doc.setIn(path, this.doc.createNode(value))
    this.changed = true
    return this
  }

  delete(path: ReadonlyArray<string | number>): this {
    if (this.get(path) === undefined) return this
    this.doc.deleteIn(path)
    this.changed = true
    return this
  }

  /** Items of the sequence at `path` as plain values (empty when absent). */
  list(path: ReadonlyArray<string | number>): ReadonlyArray<unknown> {
    const value = this.get(path)
    return Array.isArray(value) ? value : []
  }

  /**
   * Replaces the items of the sequence at `path` for which `ours` holds by
   * `wanted` (appended after the others), keeping every other item and its
   * comments; no change when they are already exactly there.
   */
  replaceItems(path: ReadonlyArray<string | number>, ours: (item: unknown) => boolean, wanted: ReadonlyArray<unknown>): this {
    const node: unknown = this.doc.getIn(path, true)
    if (node !== undefined && !Yaml.isSeq(node)) throw new UnreadableConfig(this.path, `${path.join(".")} is not a list`)
    const items = Yaml.isSeq(node) ? node.items : []
    const current = items.map((item) => (Yaml.isNode(item) ? item.toJSON() : item))
    const mine = current.filter(ours)
    if (jsonEqual(mine, wanted) && current.slice(current.length - mine.length).every(ours)) return this
    if (!Yaml.isSeq(node)) {
      this.doc.setIn(path, this.doc.createNode(wanted))
    } else {
      node.items = items.filter((_, i) => !ours(current[i])).concat(wanted.map((w) => this.doc.createNode(w)))
    }
    this.changed = true
    return this
  }

  get text(): string {
    if (!this.changed && this.original.trim() !== "") return this.original
    const out = this.doc.toString({ lineWidth: 0, flowCollectionPadding: false })
    return out.endsWith("\n") ? out : `${out}\n`
  }
}

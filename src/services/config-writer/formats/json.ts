/**
 * Minimal edits to JSON / JSONC text through `jsonc-parser`: set a value at a
 * path only when it differs, remove a key, read a value. Comments, key order
 * and formatting of everything else are kept byte for byte, and setting a
 * value that is already there changes nothing (so writers are idempotent).
 */
// The ESM build: the package's UMD entry hides its requires from esbuild, which then cannot bundle it.
import * as Jsonc from "jsonc-parser/lib/esm/main.js"
import { UnreadableConfig } from "../model.js"

export type JsonPath = ReadonlyArray<string | number>

const formatting: Jsonc.FormattingOptions = { insertSpaces: true, tabSize: 2, eol: "\n" }

/**
 * Applies one change, then formats only the inserted text: letting
 * `modify` format would also reflow the user's neighbouring values.
 */
const applyChange = (text: string, path: JsonPath, value: unknown, isArrayInsertion = false): string => {
  const edits = Jsonc.modify(text, [...path], value, { isArrayInsertion })
  let out = text
  for (const edit of edits) {
    out = Jsonc.applyEdits(out, [edit])
    out = Jsonc.applyEdits(out, Jsonc.format(out, { offset: edit.offset, length: edit.content.length }, formatting))
  }
  return out
}

/** Structural equality of JSON values (object key order ignored). */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]))
  }
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  return ka.length === kb.length &&
    ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

/** Parses JSONC text (comments and trailing commas allowed); blank text is `{}`. Throws UnreadableConfig. */
export const parseJsonObject = (path: string, text: string): Record<string, unknown> => {
  if (text.trim() === "") return {}
  const errors: Array<Jsonc.ParseError> = []
  const value: unknown = Jsonc.parse(text, errors, { allowTrailingComma: true, disallowComments: false })
  const first = errors[0]
  if (first !== undefined) {
    throw new UnreadableConfig(path, `invalid JSON (${Jsonc.printParseErrorCode(first.error)} at offset ${first.offset})`)
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UnreadableConfig(path, "the top level is not a JSON object")
  }
  return value as Record<string, unknown>
}

/** The value at `path`, or undefined. */
export const getJson = (text: string, path: JsonPath): unknown =>
  getIn(Jsonc.parse(text, [], { allowTrailingComma: true }), path)

/**
 * A JSON document being edited; `text` is always the current full text.
 * A new (blank) document is built as a value and printed with 2-space
 * indentation; an existing one is edited in place.
 */
export class JsonEditor {
  private current: string
  private fresh: Record<string, unknown> | undefined

  constructor(readonly path: string, text: string) {
    // Validate once up front so later edits never run on broken text.
    parseJsonObject(path, text)
    this.current = text
    this.fresh = text.trim() === "" ? {} : undefined
  }

  get text(): string {
    if (this.fresh !== undefined) return `${JSON.stringify(this.fresh, null, 2)}\n`
    return this.current.endsWith("\n") ? this.current : `${this.current}\n`
  }

  get(path: JsonPath): unknown {
    if (this.fresh !== undefined) return getIn(this.fresh, path)
    return getJson(this.current, path)
  }

  /** Sets `value` at `path` (creating parents) unless it is already equal. */
  set(path: JsonPath, value: unknown): this {
    if (jsonEqual(this.get(path), value)) return this
    // A parent that is not an object (e.g. `"provider": null`) is replaced as a whole.
    for (let i = 1; i < path.length; i++) {
      const parent = this.get(path.slice(0, i))
      if (parent !== undefined && (typeof parent !== "object" || parent === null || Array.isArray(parent))) {
        return this.set(path.slice(0, i), buildNested(path.slice(i), value))
      }
    }
    if (this.fresh !== undefined) {
      this.fresh = setIn(this.fresh, path, value)
      return this
    }
    this.current = applyChange(this.current, path, value)
    return this
  }

  /**
   * In the array at `path`, replaces the items for which `ours` holds by
   * `wanted` (appended at the end), editing item by item so the user's
   * other items keep their formatting; no change when already so.
   */
  replaceItems(path: JsonPath, ours: (item: unknown) => boolean, wanted: ReadonlyArray<unknown>): this {
    const current = this.get(path)
    if (!Array.isArray(current) || this.fresh !== undefined) {
      return this.set(path, [...(Array.isArray(current) ? current.filter((i) => !ours(i)) : []), ...wanted])
    }
    const others = current.filter((i) => !ours(i))
    if (jsonEqual(current, [...others, ...wanted])) return this
    for (let i = current.length - 1; i >= 0; i--) {
      if (ours(current[i])) this.current = applyChange(this.current, [...path, i], undefined)
    }
    wanted.forEach((item, i) => {
      this.current = applyChange(this.current, [...path, others.length + i], item, true)
    })
    return this
  }
}

const getIn = (root: unknown, path: JsonPath): unknown => {
  let current = root
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined
    current = (current as Record<string | number, unknown>)[segment]
  }
  return current
}

const setIn = (root: Record<string, unknown>, path: JsonPath, value: unknown): Record<string, unknown> => {
  const [head, ...rest] = path
  if (head === undefined) return root
  const key = String(head)
  const child = root[key]
  return {
    ...root,
    [key]: rest.length === 0
      ? value
      : setIn(typeof child === "object" && child !== null && !Array.isArray(child) ? (child as Record<string, unknown>) : {}, rest, value)
  }
}

const buildNested = (path: JsonPath, value: unknown): unknown =>
  path.reduceRight<unknown>((inner, key) => (typeof key === "number" ? [inner] : { [key]: inner }), value)

import { describe, expect, it } from "@effect/vitest"
import { SerializeAddon } from "@xterm/addon-serialize"
import { type IBuffer, type IBufferCell, Terminal } from "@xterm/headless"
import * as fc from "fast-check"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { isDeepStrictEqual } from "node:util"
import * as NodeV8 from "node:v8"
import * as NodeVm from "node:vm"
import { afterAll } from "vitest"
import { CompactScrollback } from "../../../src/services/terminal/CompactScrollback.js"
import { rowsAsOutput, serializeRow } from "../../../src/services/terminal/ScrollbackRows.js"
import { type MirrorSegment, type MirrorSnapshot, TerminalMirror } from "../../../src/services/terminal/TerminalMirror.js"

const directory = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "tether-compact-"))
afterAll(() => NodeFs.rmSync(directory, { recursive: true, force: true }))
let files = 0

const terminal = (cols: number, rows: number, scrollback: number) =>
  new Terminal({ cols, rows, scrollback, allowProposedApi: true, logLevel: "off" })
const write = (term: Terminal, data: string | Uint8Array) => new Promise<void>((resolve) => term.write(data, resolve))

/** What a cell looks like: its characters, width and the attributes that show. */
const cellKey = (cell: IBufferCell): string => {
  const chars = cell.getChars()
  const bg = `${cell.getBgColorMode()}:${cell.getBgColor()}`
  if (chars === "") return `_${cell.getWidth()}/${bg}`
  const flags = [
    cell.isBold(), cell.isDim(), cell.isItalic(), cell.isUnderline(), cell.isBlink(),
    cell.isInverse(), cell.isInvisible(), cell.isStrikethrough(), cell.isOverline()
  ].map((f) => (f ? 1 : 0)).join("")
  return `${chars}${cell.getWidth()}/${cell.getFgColorMode()}:${cell.getFgColor()}/${bg}/${flags}`
}

/** Rows `from`..`to` of a buffer, cell by cell. */
const cells = (buffer: IBuffer, cols: number, from: number, to: number): Array<string> => {
  const cell = buffer.getNullCell()
  const out: Array<string> = []
  for (let y = from; y < to; y++) {
    const line = buffer.getLine(y)
    const keys: Array<string> = []
    for (let x = 0; x < cols; x++) keys.push(line?.getCell(x, cell) === undefined ? "?" : cellKey(cell))
    out.push(keys.join(" "))
  }
  return out
}

/** Everything a terminal shows and holds: every line's text, the cursor, the active buffer and its screen. */
const state = (term: Terminal) => {
  const normal = term.buffer.normal
  const lines: Array<string> = []
  for (let y = 0; y < normal.length; y++) lines.push(normal.getLine(y)?.translateToString(true) ?? "")
  const active = term.buffer.active
  const screen: Array<string> = []
  for (let y = 0; y < term.rows; y++) screen.push(active.getLine(active.baseY + y)?.translateToString(true) ?? "")
  return { lines, screen, cursor: [active.cursorX, active.cursorY], type: active.type }
}

const pieces = {
  text: fc.string({ unit: fc.constantFrom(..."abcdefghij klmnop0123456789.,-"), maxLength: 30 }),
  wide: fc.constantFrom("漢字", "👍", "é", "e\u0301", "ｗｉｄｅ"),
  sgr: fc.constantFrom(
    "\x1b[0m", "\x1b[1m", "\x1b[31m", "\x1b[92m", "\x1b[38;5;200m", "\x1b[38;5;3m", "\x1b[48;2;1;2;3m", "\x1b[44m",
    "\x1b[4m", "\x1b[7m", "\x1b[2;3;9m", "\x1b[5;8;53m", "\x1b[22;24m", "\x1b[49m"
  ),
  control: fc.constantFrom("\r\n", "\n", "\r", "\t", "\x08", "\x1b[K", "\x1b[1K", "\x1b[3X", "\x1b[5C", "\x1b[2D", "\x1b[A"),
  bulk: fc.oneof(
    fc.integer({ min: 1, max: 40 }).map((n) => "a line\r\n".repeat(n)),
    fc.integer({ min: 1, max: 300 }).map((n) => "w".repeat(n)),
    fc.integer({ min: 1, max: 20 }).map((n) => "\x1b[41m colour \x1b[0m\r\n".repeat(n))
  ),
  screen: fc.constantFrom(
    "\x1b[H", "\x1b[2J", "\x1b[3J", "\x1b[3;2H", "\x1b[?1049h", "\x1b[?1049l", "\x1b[2;3r", "\x1b[r", "\x1bc",
    "\x1b[?7l", "\x1b[?7h", "\x1bD", "\x1bM", "\x1b[2S", "\x1b[L", "\x1b[M", "\x1b7", "\x1b8", "\x1b[5b"
  )
}
const streamOf = (screenWeight: number) =>
  fc.array(
    fc.oneof(
      { weight: 5, arbitrary: pieces.text },
      { weight: 2, arbitrary: pieces.wide },
      { weight: 3, arbitrary: pieces.sgr },
      { weight: 4, arbitrary: pieces.control },
      { weight: 3, arbitrary: pieces.bulk },
      { weight: screenWeight, arbitrary: pieces.screen }
    ),
    { maxLength: 80 }
  ).map((parts) => parts.join(""))

describe("ScrollbackRows", () => {
  it("rows written back into a fresh terminal are the same rows, cell by cell", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 20 }),
        fc.integer({ min: 2, max: 6 }),
        streamOf(0),
        async (cols, rows, text) => {
          const source = terminal(cols, rows, 1000)
          await write(source, text)
          const buffer = source.buffer.normal
          const cell = buffer.getNullCell()
          const serialized = []
          for (let y = 0; y < buffer.baseY; y++) serialized.push(serializeRow(buffer.getLine(y)!, cols, cell))
          const copy = terminal(cols, rows, 1000)
          await write(copy, rowsAsOutput(serialized, cols, rows))
          try {
            expect(copy.buffer.normal.baseY).toBe(buffer.baseY)
            expect(cells(copy.buffer.normal, cols, 0, buffer.baseY)).toEqual(cells(buffer, cols, 0, buffer.baseY))
            // The screen is blank and the cursor home, as in a fresh terminal.
            expect(state(copy).screen.every((line) => line === "")).toBe(true)
            expect(state(copy).cursor).toEqual([0, 0])
          } finally {
            source.dispose()
            copy.dispose()
          }
        }
      ),
      { numRuns: 300, seed: 20261122 }
    )
  })
})

/** A mirror following an output file, fed `chunks`, with resizes between them; and its snapshot. */
const mirrorSnapshot = async (
  options: { cols: number; rows: number; scrollback: number; hotRows: number; batchRows: number },
  steps: ReadonlyArray<{ readonly data: Uint8Array } | { readonly cols: number; readonly rows: number }>,
  maxBytes?: number
) => {
  const file = NodePath.join(directory, `out-${++files}`)
  NodeFs.writeFileSync(file, "")
  const segment: MirrorSegment = { offset: 0, position: 0 }
  const mirror = new TerminalMirror({
    cols: options.cols,
    rows: options.rows,
    scrollback: options.scrollback,
    file,
    segment,
    compact: { hotRows: options.hotRows, batchRows: options.batchRows }
  })
  let end = 0
  let size = { cols: options.cols, rows: options.rows }
  for (const step of steps) {
    if ("data" in step) {
      NodeFs.appendFileSync(file, step.data)
      end += step.data.length
      mirror.stored(end, segment)
    } else {
      mirror.resize(end, step.cols, step.rows)
      size = { cols: step.cols, rows: step.rows }
    }
  }
  const snapshot = await new Promise<MirrorSnapshot>((resolve) => mirror.snapshot(end, resolve, maxBytes))
  const stats = mirror.compactStats
  mirror.dispose()
  return { snapshot, stats, size }
}

/** A viewer: a fresh terminal of the snapshot's size that is written the snapshot. */
const view = async (snapshot: { cols: number; rows: number; data: string }, scrollback: number) => {
  const viewer = terminal(snapshot.cols, snapshot.rows, scrollback)
  await write(viewer, snapshot.data)
  const seen = state(viewer)
  viewer.dispose()
  return seen
}

/** What a viewer attached from the start ends up with: the same steps into a terminal with the whole scrollback as cells. */
const attachedFromStart = async (
  options: { cols: number; rows: number; scrollback: number },
  steps: ReadonlyArray<{ readonly data: Uint8Array } | { readonly cols: number; readonly rows: number }>,
  measureLines = false
) => {
  const reference = terminal(options.cols, options.rows, options.scrollback)
  const serializer = new SerializeAddon()
  reference.loadAddon(serializer)
  // The most rows a line took, at any width the terminal had.
  let longest = 0
  const measure = () => {
    const buffer = reference.buffer.normal
    let run = 0
    for (let y = 0; y < buffer.length; y++) {
      run = buffer.getLine(y)?.isWrapped === true ? run + 1 : 1
      longest = Math.max(longest, run)
    }
  }
  for (const step of steps) {
    if ("data" in step) await write(reference, step.data)
    else {
      if (measureLines) measure()
      reference.resize(step.cols, step.rows)
    }
  }
  if (measureLines) measure()
  const seen = state(reference)
  const data = serializer.serialize()
  const size = { cols: reference.cols, rows: reference.rows }
  reference.dispose()
  return { seen, data, longest, ...size }
}


const encoder = new TextEncoder()

/** A small terminal, the rows xterm keeps as cells, and the scrollback beyond them. */
const geometry = ({ minHotRows, maxBatchRows }: { readonly minHotRows: number; readonly maxBatchRows: number }) => ({
  cols: fc.integer({ min: 4, max: 16 }),
  rows: fc.integer({ min: 2, max: 6 }),
  hotRows: fc.integer({ min: minHotRows, max: 12 }),
  batchRows: fc.integer({ min: 1, max: maxBatchRows }),
  extra: fc.integer({ min: 1, max: 40 })
})

/**
 * A viewer of the snapshot holds what the terminal attached from the start
 * holds: every line, the cursor and the screen. The last scrollback row, the
 * screen, the cursor and the modes are written by xterm's serialize addon,
 * whose output is not exact in every corner; where it is not, those lines
 * show what a viewer of that terminal's own serialization shows, and the
 * scrollback rows before them are still exact.
 */
const expectSameView = (
  seen: ReturnType<typeof state>,
  reference: { readonly seen: ReturnType<typeof state> },
  referenceViewed: ReturnType<typeof state>
) => {
  const truth = reference.seen
  if (isDeepStrictEqual(seen, truth)) return true
  const history = Math.max(0, truth.lines.length - truth.screen.length - 1)
  expect(seen.lines.slice(0, history)).toEqual(truth.lines.slice(0, history))
  const rest = seen.lines.length - history
  expect({ ...seen, lines: seen.lines.slice(history) }).toEqual({ ...referenceViewed, lines: referenceViewed.lines.slice(-rest) })
  return false
}

/** A full collection on demand (the flag set at run time exposes `gc` to contexts made afterwards). */
const fullCollection = (): (() => void) => {
  NodeV8.setFlagsFromString("--expose-gc")
  return NodeVm.runInNewContext("gc") as () => void
}

describe("CompactScrollback", () => {
  it("keeps plain rows as flat text: 10 000 rows of 80 characters take a few MB, not the 24 MB of xterm's character-by-character strings", async () => {
    const gc = fullCollection()
    const term = terminal(80, 24, 1000)
    const compact = new CompactScrollback(term, { scrollback: 10_000, hotRows: 1000, batchRows: 256 })
    gc()
    const before = process.memoryUsage().heapUsed
    let output = ""
    for (let line = 0; line < 11_000; line++) output += `${String(line).padStart(6, "0")} ${"x".repeat(73)}\r\n`
    await write(term, output)
    output = ""
    gc()
    const grown = process.memoryUsage().heapUsed - before
    expect(compact.savedRows).toBeGreaterThan(9_000)
    // About 3.3 MB: 9 000 saved rows of ~100 bytes, 1 000 rows as cells. Character-by-character strings kept 24 MB.
    expect(grown).toBeLessThan(10 * 1024 * 1024)
    compact.dispose()
    term.dispose()
  })

  it("holds at most its share of rows as cells and the rest as text, and the snapshot shows the whole scrollback", async () => {
    const options = { cols: 40, rows: 10, scrollback: 2000, hotRows: 100, batchRows: 25 }
    let text = ""
    for (let i = 0; i < 3000; i++) text += `\x1b[3${i % 8}mline ${i}\x1b[0m ${"x".repeat(i % 60)}\r\n`
    const steps = [{ data: encoder.encode(text) }]
    const { snapshot, stats } = await mirrorSnapshot(options, steps)
    const reference = await attachedFromStart(options, steps)
    const seen = await view(snapshot, options.scrollback)
    expectSameView(seen, reference, await view(reference, options.scrollback))
    expect(seen.lines.length).toBe(options.scrollback + options.rows)
    expect(stats?.lost).toBe(0)
    expect(stats?.savedRows).toBeLessThanOrEqual(options.scrollback)
    expect(stats?.saved).toBeGreaterThan(3000)
  })

  it("a snapshot limited in size keeps the screen and the newest rows that fit; erasing the scrollback or a reset drops the saved rows", async () => {
    const options = { cols: 30, rows: 5, scrollback: 500, hotRows: 20, batchRows: 5 }
    let text = ""
    for (let i = 0; i < 400; i++) text += `row ${i}\r\n`
    text += "last"
    const steps = [{ data: encoder.encode(text) }]
    const full = await mirrorSnapshot(options, steps)
    expect(full.stats?.savedRows).toBeGreaterThan(300)
    const limited = await mirrorSnapshot(options, steps, 2000)
    expect(Buffer.byteLength(limited.snapshot.data)).toBeLessThanOrEqual(2000)
    const seen = await view(limited.snapshot, options.scrollback)
    expect(seen.screen).toEqual((await view(full.snapshot, options.scrollback)).screen)
    const history = seen.lines.slice(0, seen.lines.length - options.rows)
    expect(history.length).toBeGreaterThan(100)
    // The newest rows, in order, up to the screen.
    expect(history.slice(-3)).toEqual(["row 393", "row 394", "row 395"])
    expect(history[0]).toBe(`row ${396 - history.length}`)

    for (const erase of ["\x1b[3J", "\x1bc"]) {
      const erased = await mirrorSnapshot(options, [...steps, { data: encoder.encode(`${erase}after`) }])
      expect(erased.stats?.savedRows).toBe(0)
      const after = await view(erased.snapshot, options.scrollback)
      expect(after.lines.join("\n")).not.toContain("row 1")
      expect(after.lines.join("")).toContain("after")
    }
  })

  it("a snapshot rebuilds the same scrollback and screen as a terminal that kept everything as cells (property)", async () => {
    let saving = 0
    let exact = 0
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          ...geometry({ minHotRows: 2, maxBatchRows: 6 }),
          chunks: fc.array(streamOf(2), { minLength: 1, maxLength: 4 })
        }),
        async ({ cols, rows, hotRows, batchRows, extra, chunks }) => {
          const options = { cols, rows, scrollback: hotRows + extra, hotRows, batchRows }
          const steps = chunks.map((chunk) => ({ data: encoder.encode(chunk) }))
          const { snapshot, stats } = await mirrorSnapshot(options, steps)
          const reference = await attachedFromStart(options, steps)
          expect(stats?.lost).toBe(0)
          if (expectSameView(await view(snapshot, options.scrollback), reference, await view(reference, options.scrollback))) exact++
          if ((stats?.saved ?? 0) > 0) saving++
        }
      ),
      { numRuns: 150, seed: 20261122 }
    )
    // The property must exercise saving rows, and most cases come out exact.
    expect(saving).toBeGreaterThan(50)
    expect(exact).toBeGreaterThan(100)
  }, 120_000)
})

describe("CompactScrollback with resizes", () => {
  it("a snapshot after resizes rebuilds what a terminal that kept everything as cells shows (property)", async () => {
    let exact = 0
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          ...geometry({ minHotRows: 8, maxBatchRows: 4 }),
          steps: fc.array(
            fc.oneof(
              { weight: 3, arbitrary: streamOf(1).map((text) => ({ data: encoder.encode(text) })) },
              { weight: 1, arbitrary: fc.record({ cols: fc.integer({ min: 4, max: 16 }), rows: fc.integer({ min: 2, max: 6 }) }) }
            ),
            { minLength: 1, maxLength: 6 }
          )
        }),
        async ({ cols, rows, hotRows, batchRows, extra, steps }) => {
          const options = { cols, rows, scrollback: hotRows + extra, hotRows, batchRows }
          const { snapshot, stats } = await mirrorSnapshot(options, steps)
          const reference = await attachedFromStart(options, steps)
          expect(stats?.lost).toBe(0)
          const seen = await view(snapshot, options.scrollback)
          const referenceViewed = await view(reference, options.scrollback)
          const everything = await attachedFromStart({ ...options, scrollback: 100_000 }, steps, true)
          if (isDeepStrictEqual(seen, reference.seen)) {
            exact++
            return
          }
          // Unless a line longer than xterm's share of the scrollback was split
          // between text and xterm (xterm then reflows its part from the wrong
          // column, and xterm's own reflow of such lines is not exact either):
          // - the screen and cursor are exact (as far as the addon is);
          // - rows kept as text were not reflowed by xterm but by the viewer,
          //   so the scrollback may wrap differently, but it holds a stretch of
          //   what the reference terminal's scrollback holds (characters in
          //   order, nothing dropped or garbled).
          if (everything.longest > hotRows / 2) return
          const screenOf = (v: ReturnType<typeof state>) => ({ screen: v.screen, cursor: v.cursor, type: v.type })
          const screen = screenOf(seen)
          expect(screen).toEqual(isDeepStrictEqual(screen, screenOf(reference.seen)) ? screenOf(reference.seen) : screenOf(referenceViewed))
          const flat = (lines: ReadonlyArray<string>) => lines.join("").replace(/\s+/g, "")
          const end = snapshot.data.indexOf("\r\n".repeat(snapshot.rows) + "\x1b[H")
          const rowsPart = await view({ ...snapshot, data: end < 0 ? "" : snapshot.data.slice(0, end) }, options.scrollback)
          expect(flat(everything.seen.lines)).toContain(flat(rowsPart.lines))
        }
      ),
      { numRuns: 150, seed: 20261122 }
    )
    expect(exact).toBeGreaterThan(50)
  }, 120_000)
})

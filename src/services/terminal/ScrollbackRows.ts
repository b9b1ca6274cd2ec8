/**
 * Scrollback rows as text: each row of a headless xterm's scrollback turned
 * into a self-contained string of characters and SGR sequences, and rows
 * joined back into output that rebuilds them in a fresh terminal.
 *
 * Scrollback rows never change once they have scrolled off the screen (the
 * cursor cannot reach them), so the screen mirror serializes each one once,
 * when xterm is about to drop it, and keeps the string: about a tenth of the
 * memory of xterm's cells (`CompactScrollback`).
 *
 * A row's text starts and ends with default attributes, so rows can be joined
 * in any number and a line feed between them scrolls in a blank line of the
 * default colour (xterm fills new lines with the current background). Cells
 * with nothing in them are skipped with a cursor move, or erased with their
 * background colour when they have one (ECH uses the current background).
 */
import type { IBufferCell, IBufferLine } from "@xterm/headless"

export interface SerializedRow {
  /** Characters and SGR sequences; starts and ends with default attributes. */
  readonly text: string
  /** The row continues the one before it (xterm wrapped it there). */
  readonly wrapped: boolean
  /** Empty columns at the end of the row. */
  readonly trailing: number
  /** The terminal's width when the row was serialized. */
  readonly cols: number
  /** The row's first cell holds a character on the default background (printing it wraps onto the row as is). */
  readonly plainStart: boolean
}

/** Character attributes that SGR sets, as numbers that compare cheaply. */
interface Style {
  fgMode: number
  fg: number
  bgMode: number
  bg: number
  flags: number
}

const BOLD = 1
const DIM = 2
const ITALIC = 4
const UNDERLINE = 8
const BLINK = 16
const INVERSE = 32
const INVISIBLE = 64
const STRIKETHROUGH = 128
const OVERLINE = 256

const flagsOf = (cell: IBufferCell): number =>
  (cell.isBold() ? BOLD : 0) |
  (cell.isDim() ? DIM : 0) |
  (cell.isItalic() ? ITALIC : 0) |
  (cell.isUnderline() ? UNDERLINE : 0) |
  (cell.isBlink() ? BLINK : 0) |
  (cell.isInverse() ? INVERSE : 0) |
  (cell.isInvisible() ? INVISIBLE : 0) |
  (cell.isStrikethrough() ? STRIKETHROUGH : 0) |
  (cell.isOverline() ? OVERLINE : 0)

const isDefault = (style: Style): boolean =>
  style.fgMode === 0 && style.bgMode === 0 && style.flags === 0

/** The SGR parameters for a colour: `base` 30 (foreground) or 40 (background). */
const colourParams = (mode: number, colour: number, base: 30 | 40, into: Array<number>): void => {
  if (mode === 0) return
  // xterm's colour modes: 1 = 16-colour palette, 2 = 256-colour palette, 3 = RGB (shifted into the top byte).
  const kind = mode >>> 24
  if (kind === 3) into.push(base + 8, 2, (colour >>> 16) & 0xff, (colour >>> 8) & 0xff, colour & 0xff)
  else if (kind === 2) into.push(base + 8, 5, colour)
  else into.push(colour & 8 ? base + 60 + (colour & 7) : base + (colour & 7))
}

/** One SGR sequence setting exactly `style` (from whatever was set before). */
const sgr = (style: Style): string => {
  const params: Array<number> = [0]
  colourParams(style.fgMode, style.fg, 30, params)
  colourParams(style.bgMode, style.bg, 40, params)
  const flags = style.flags
  if (flags & BOLD) params.push(1)
  if (flags & DIM) params.push(2)
  if (flags & ITALIC) params.push(3)
  if (flags & UNDERLINE) params.push(4)
  if (flags & BLINK) params.push(5)
  if (flags & INVERSE) params.push(7)
  if (flags & INVISIBLE) params.push(8)
  if (flags & STRIKETHROUGH) params.push(9)
  if (flags & OVERLINE) params.push(53)
  return params.length === 1 ? "\x1b[0m" : `\x1b[${params.join(";")}m`
}

/**
 * Serializes scrollback rows one at a time. Its state lives in fields, not in
 * closures made per row: a row costs no allocation beyond its parts and its
 * text, and one writer, kept by its owner, keeps the shape its optimized code
 * was made for alive (see `ShapeKeeper`). `cell` is scratch space
 * (`buffer.getNullCell()`), reused from row to row.
 */
export class RowWriter {
  private parts: Array<string> = []
  private readonly current: Style = { fgMode: 0, fg: 0, bgMode: 0, bg: 0, flags: 0 }
  /** Empty cells not written yet, and their background. */
  private empty = 0
  private emptyBgMode = 0
  private emptyBg = 0
  /**
   * Characters not written yet (all in the current style), joined into one
   * string when the run ends. Not xterm's `translateToString`: it builds its
   * result a character at a time, a chain of about 30 bytes per character
   * that a kept row would hold on to (2.4 KB for a row of 80 characters);
   * `join` makes one flat string.
   */
  private readonly run: Array<string> = []

  constructor(private readonly cell: IBufferCell) {}

  /** One scrollback row as text. */
  write(line: IBufferLine, cols: number): SerializedRow {
    const current = this.current
    current.fgMode = 0
    current.fg = 0
    current.bgMode = 0
    current.bg = 0
    current.flags = 0
    this.empty = 0
    this.emptyBgMode = 0
    this.emptyBg = 0
    this.run.length = 0
    let plainStart = false
    const width = Math.min(cols, line.length)
    for (let x = 0; x < width; x++) {
      const c = line.getCell(x, this.cell)
      if (c === undefined) continue
      if (c.getCode() === 0) {
        const cellWidth = c.getWidth()
        if (cellWidth === 0) continue // the second half of a double-width character
        // An empty cell.
        this.flushRun()
        const bgMode = c.getBgColorMode()
        const bg = c.getBgColor()
        if (this.empty > 0 && (bgMode !== this.emptyBgMode || bg !== this.emptyBg)) this.flushEmpty(false)
        this.emptyBgMode = bgMode
        this.emptyBg = bg
        this.empty += cellWidth
        continue
      }
      if (x === 0) plainStart = c.getBgColorMode() === 0
      this.flushEmpty(false)
      if (c.isAttributeDefault()) this.setStyle(0, 0, 0, 0, 0)
      else this.setStyle(c.getFgColorMode(), c.getFgColor(), c.getBgColorMode(), c.getBgColor(), flagsOf(c))
      this.run.push(c.getChars())
    }
    this.flushRun()
    const trailing = this.empty + Math.max(0, cols - width)
    this.flushEmpty(true)
    if (!isDefault(current)) this.parts.push("\x1b[0m")
    const text = this.parts.join("")
    this.parts = []
    return { text, wrapped: line.isWrapped, trailing, cols, plainStart }
  }

  private flushRun(): void {
    const run = this.run
    if (run.length === 0) return
    this.parts.push(run.length === 1 ? run[0]! : run.join(""))
    run.length = 0
  }

  private setStyle(fgMode: number, fg: number, bgMode: number, bg: number, flags: number): void {
    const current = this.current
    if (current.fgMode === fgMode && current.fg === fg && current.bgMode === bgMode && current.bg === bg && current.flags === flags) return
    this.flushRun()
    current.fgMode = fgMode
    current.fg = fg
    current.bgMode = bgMode
    current.bg = bg
    current.flags = flags
    this.parts.push(sgr(current))
  }

  /** Writes the pending empty cells: erased in their colour if they have one; the cursor moves past them unless they end the row. */
  private flushEmpty(atEnd: boolean): void {
    const empty = this.empty
    if (empty === 0) return
    if (this.emptyBgMode !== 0) {
      this.setStyle(0, 0, this.emptyBgMode, this.emptyBg, 0)
      this.parts.push(`\x1b[${empty}X`)
    }
    if (!atEnd) this.parts.push(`\x1b[${empty}C`)
    this.empty = 0
  }
}

/**
 * One scrollback row as text. `cell` is scratch space (`buffer.getNullCell()`),
 * reused from row to row.
 */
export const serializeRow = (line: IBufferLine, cols: number, cell: IBufferCell): SerializedRow =>
  new RowWriter(cell).write(line, cols)

/**
 * What goes between two rows in a terminal `cols` wide: a line break, or for
 * a wrapped row whatever makes the cursor wrap there with default attributes
 * (xterm fills a new line with the current background).
 *
 * After a full row whose successor starts with a character on the default
 * background, that character wraps by itself. Otherwise dashes fill the
 * empty columns and wrap onto the new row; the dash there and the ones
 * above are erased again, and the cursor is back at the new row's start.
 * Rows serialized at another width, or after such rows (`fromColumnZero`
 * false: the row before did not start at the left edge), are joined as
 * text: the terminal wraps them at its own width (as xterm reflows them).
 * The longest separator is the one for `fromColumnZero` true.
 */
export const rowSeparator = (previous: SerializedRow, row: SerializedRow, cols: number, fromColumnZero = true): string => {
  if (!row.wrapped) return "\r\n"
  if (!fromColumnZero || previous.cols !== cols || previous.trailing === 0 && row.plainStart) return ""
  const trailing = previous.trailing
  let separator = `${"-".repeat(trailing + 1)}\x1b[D\x1b[X`
  if (trailing > 0) {
    separator += "\x1b[A"
    if (cols - trailing > 0) separator += `\x1b[${cols - trailing}C`
    separator += `\x1b[${trailing}X\r\x1b[B`
  }
  return separator
}

/**
 * Rows as output for a fresh terminal `cols` wide, followed by `screenRows` line feeds
 * and a cursor home: every row ends up in the scrollback and the screen is
 * blank, with the cursor at the top left, as in a fresh terminal. Empty for
 * no rows.
 */
export const rowsAsOutput = (rows: ReadonlyArray<SerializedRow>, cols: number, screenRows: number): string => {
  if (rows.length === 0) return ""
  const parts: Array<string> = []
  let previous: SerializedRow | null = null
  // Whether the row before starts at the left edge of the terminal.
  let fromColumnZero = true
  for (const row of rows) {
    if (previous !== null) {
      const separator = rowSeparator(previous, row, cols, fromColumnZero)
      parts.push(separator)
      fromColumnZero = separator !== "" || fromColumnZero && previous.cols === cols && previous.trailing === 0
    }
    parts.push(row.text)
    previous = row
  }
  parts.push("\r\n".repeat(screenRows), "\x1b[H")
  return parts.join("")
}

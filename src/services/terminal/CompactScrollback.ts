/**
 * A long scrollback for a headless xterm at a fraction of its memory.
 *
 * xterm keeps every row as cells (12 bytes a column: about 1 kB a row at 80
 * columns, 10 MB for 10 000 rows). Here xterm holds only the newest
 * `hotRows` rows of scrollback; rows older than that are kept as text
 * (`ScrollbackRows`), which for ordinary output is a tenth of the size.
 *
 * How rows move out of xterm without losing any:
 * - xterm's own scrollback is `hotRows`. Once it is full, every further
 *   line scrolled drops its oldest row. Each scroll fires `onScroll`; when
 *   xterm is full and none of its rows are saved yet, the next `batchRows`
 *   rows from the top are serialized at once. They stay in xterm (as
 *   duplicates) until xterm drops them, one per scroll.
 * - A marker sits on the first row not saved yet: xterm moves it as rows
 *   are dropped, so `marker.line` is the number of saved rows xterm still
 *   holds. Were a row dropped unsaved, the marker would be disposed with it
 *   (counted in `stats.lost`; the tests check it never is).
 * - Rows in the scrollback never change (the cursor cannot reach them) until
 *   a resize moves or reflows them; `resize` prepares for each kind.
 * - `CSI 3 J` (erase scrollback) and `ESC c` (reset) clear the saved rows too.
 *
 * A snapshot is the saved rows, then xterm's scrollback rows serialized the
 * same way, then line feeds that leave a blank screen and xterm's serialize
 * addon for the last scrollback row, the screen, the alternate buffer and
 * the modes: written into a fresh terminal it rebuilds the same scrollback
 * and screen.
 */
import type { SerializeAddon } from "@xterm/addon-serialize"
import type { IDisposable, IMarker, Terminal } from "@xterm/headless"
import { RowWriter, rowsAsOutput, rowSeparator, type SerializedRow } from "./ScrollbackRows.js"

export interface CompactScrollbackOptions {
  /** Rows of scrollback in all (the terminal's scrollback setting). */
  readonly scrollback: number
  /** Rows of scrollback xterm itself holds (its `scrollback` option must be this). */
  readonly hotRows: number
  /** Rows serialized at a time once xterm is full (at most half of `hotRows`). */
  readonly batchRows: number
}

export class CompactScrollback {
  /** Saved rows, oldest first, from `head` on (the ones before are dropped). */
  private rows: Array<SerializedRow> = []
  private head = 0
  /** On the first row of xterm's buffer not saved yet (row 0 when xterm holds no saved row); null: not placed yet. */
  private marker: IMarker | null = null
  private readonly writer: RowWriter
  private readonly subscriptions: Array<IDisposable>
  private readonly batchRows: number
  /** Rows serialized when xterm was about to drop them, and rows xterm dropped unsaved. */
  readonly stats = { saved: 0, lost: 0 }

  constructor(private readonly terminal: Terminal, private readonly options: CompactScrollbackOptions) {
    this.batchRows = Math.max(1, Math.min(options.batchRows, Math.floor(options.hotRows / 2)))
    this.writer = new RowWriter(terminal.buffer.normal.getNullCell())
    const eraseScrollback = (params: ReadonlyArray<number | ReadonlyArray<number>>): boolean => {
      // Only the normal buffer has a scrollback; in the alternate one `CSI 3 J` clears nothing.
      if (params[0] === 3 && terminal.buffer.active.type === "normal") this.clear()
      return false // xterm's own handler runs too
    }
    this.subscriptions = [
      terminal.onScroll(() => this.scrolled()),
      // Back in the normal buffer, it may be full already.
      terminal.buffer.onBufferChange(() => this.scrolled()),
      terminal.parser.registerCsiHandler({ final: "J" }, eraseScrollback),
      terminal.parser.registerCsiHandler({ prefix: "?", final: "J" }, eraseScrollback),
      terminal.parser.registerEscHandler({ final: "c" }, () => {
        this.clear()
        return false
      })
    ]
  }

  /** Saved rows xterm no longer holds or still holds. */
  get savedRows(): number {
    return this.rows.length - this.head
  }

  /** Forgets every saved row (the terminal was reset or its scrollback erased). */
  clear(): void {
    this.rows = []
    this.head = 0
    this.dropMarker()
  }

  /**
   * Resizes the terminal without losing scrollback rows:
   * - a shorter screen pushes rows into the scrollback, dropping as many of
   *   its oldest: those are saved first;
   * - a taller screen pulls rows back from the scrollback (where they can
   *   change again): saved rows xterm still holds are given back to it;
   * - a new width reflows xterm's rows: rows continuing a line whose start
   *   is saved are saved and dropped (xterm cannot reflow them), other saved
   *   rows it still holds are given back, xterm may hold the whole
   *   scrollback while it reflows, then rows beyond `hotRows` are saved and
   *   dropped.
   */
  resize(cols: number, rows: number): void {
    const terminal = this.terminal
    if (cols === terminal.cols && rows === terminal.rows) return
    this.resizeBuffers(cols, rows)
    // A full scrollback must have rows saved before the next scroll drops one.
    this.scrolled()
  }

  private resizeBuffers(cols: number, rows: number): void {
    const terminal = this.terminal
    if (cols === terminal.cols && rows < terminal.rows && terminal.buffer.active.type === "normal") {
      const buffer = terminal.buffer.normal
      this.saveUpTo(buffer.baseY + (terminal.rows - rows) - this.options.hotRows)
      terminal.resize(cols, rows)
      return
    }
    if (cols === terminal.cols) {
      this.forgetDuplicates()
      terminal.resize(cols, rows)
      return
    }
    this.detachLineStarts()
    this.setScrollback(this.options.scrollback)
    terminal.resize(cols, rows)
    const buffer = terminal.buffer.normal
    const excess = buffer.length - (this.options.hotRows + terminal.rows)
    for (let y = 0; y < excess; y++) this.save(y)
    this.trim()
    this.setScrollback(this.options.hotRows)
  }

  /**
   * The scrollback and screen as output that rebuilds them in a fresh
   * terminal, in at most `maxBytes` of UTF-8 if it can be done: older rows
   * are left out to fit, and if the screen alone does not fit it comes alone.
   */
  snapshot(serializer: SerializeAddon, maxBytes: number): string {
    const terminal = this.terminal
    const buffer = terminal.buffer.normal
    const scrollbackRows = buffer.baseY
    // The addon writes the last scrollback row with the screen, so a row wrapped onto the screen stays wrapped.
    const screen = serializer.serialize({ scrollback: scrollbackRows > 0 ? 1 : 0 })
    let budget = maxBytes - Buffer.byteLength(screen, "utf8") - 2 * terminal.rows - 3
    if (budget < 0) return serializer.serialize({ scrollback: 0 })
    const duplicates = this.duplicates()
    // Rows of xterm's scrollback before the one the addon writes that are not saved.
    const hot: Array<SerializedRow> = []
    for (let y = duplicates; y < scrollbackRows - 1; y++) {
      const line = buffer.getLine(y)
      if (line !== undefined) hot.push(this.writer.write(line, terminal.cols))
    }
    // Saved rows, without the one the addon writes if xterm holds it saved.
    const savedEnd = this.rows.length - Math.max(0, duplicates - Math.max(0, scrollbackRows - 1))
    const limit = this.options.scrollback - (scrollbackRows > 0 ? 1 : 0)
    // The candidates: saved rows [head, savedEnd), then the hot ones; chosen newest first.
    const saved = savedEnd - this.head
    const rowAt = (i: number): SerializedRow => (i < saved ? this.rows[this.head + i]! : hot[i - saved]!)
    const chosen: Array<SerializedRow> = []
    let next: SerializedRow | null = null
    for (let i = saved + hot.length - 1; i >= 0 && chosen.length < limit; i--) {
      const row = rowAt(i)
      const cost = Buffer.byteLength(row.text, "utf8") + (next === null ? 0 : rowSeparator(row, next, terminal.cols).length)
      if (cost > budget) break
      budget -= cost
      chosen.push(row)
      next = row
    }
    chosen.reverse()
    return rowsAsOutput(chosen, terminal.cols, terminal.rows) + screen
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose()
    this.dropMarker()
    this.rows = []
    this.head = 0
  }

  /** After a scroll (or a resize): once xterm is full, the rows it drops next must be saved before the next scroll. */
  private scrolled(): void {
    const terminal = this.terminal
    if (terminal.buffer.active.type !== "normal") return
    const buffer = terminal.buffer.normal
    if (buffer.baseY >= this.options.hotRows && this.duplicates() === 0) {
      this.saveBatch()
      return
    }
    // A marker on the first row, so a row ever dropped unsaved is noticed (`stats.lost`).
    if (this.marker === null && buffer.baseY >= 1) {
      this.marker = terminal.registerMarker(-(buffer.baseY + buffer.cursorY)) ?? null
    }
  }

  /** Saves the next `batchRows` rows from the top of xterm's scrollback. */
  private saveBatch(): void {
    this.saveUpTo(this.duplicates() + this.batchRows)
  }

  /**
   * Saves xterm's rows up to row `end`, or on to the end of the line that
   * row is part of (a line split between text and xterm would reflow from
   * the wrong column on a width change), but not beyond the scrollback's
   * last row, where the marker goes. The normal buffer must be the active
   * one (xterm puts markers there only).
   */
  private saveUpTo(end: number): void {
    const terminal = this.terminal
    const buffer = terminal.buffer.normal
    const from = this.duplicates()
    const last = buffer.baseY - 1
    let to = Math.min(end, last)
    while (to > from && to < last && buffer.getLine(to)?.isWrapped === true) to++
    if (to <= from) return
    for (let y = from; y < to; y++) this.save(y)
    this.dropMarker()
    this.marker = terminal.registerMarker(to - (buffer.baseY + buffer.cursorY)) ?? null
    this.trim()
  }

  private save(y: number): void {
    const line = this.terminal.buffer.normal.getLine(y)
    if (line === undefined) return
    this.rows.push(this.writer.write(line, this.terminal.cols))
    this.stats.saved++
  }

  /** Saved rows xterm still holds (the newest saved ones). */
  private duplicates(): number {
    const marker = this.marker
    if (marker === null) return 0
    if (marker.isDisposed || marker.line < 0) {
      // xterm dropped rows that were not saved.
      this.stats.lost++
      this.marker = null
      return 0
    }
    return Math.min(marker.line, this.savedRows)
  }

  /**
   * Before a reflow: xterm's top rows that continue a line whose start is
   * saved (xterm dropped it) are saved and dropped too (xterm cannot reflow
   * a line without its start; it would lose them); saved rows xterm still
   * holds after those are xterm's again.
   */
  private detachLineStarts(): void {
    const buffer = this.terminal.buffer.normal
    let continuing = 0
    if (this.savedRows > 0) {
      while (continuing < buffer.baseY && buffer.getLine(continuing)?.isWrapped === true) continuing++
    }
    const duplicates = this.duplicates()
    if (continuing > duplicates) {
      for (let y = duplicates; y < continuing; y++) this.save(y)
    } else {
      this.rows.length -= duplicates - continuing
    }
    this.dropMarker()
    if (continuing > 0) this.setScrollback(buffer.length - this.terminal.rows - continuing)
  }

  /** The saved rows xterm still holds are xterm's again. */
  private forgetDuplicates(): void {
    const duplicates = this.duplicates()
    if (duplicates > 0) this.rows.length -= duplicates
    this.dropMarker()
  }

  /**
   * Changes xterm's scrollback setting, which resizes its buffers in place to
   * the same size. That also puts a cursor waiting to wrap (x = cols) back on
   * the last column, which a program would notice: the cursor columns are
   * put back (xterm keeps them private; if their shape ever changes the
   * columns are left as xterm sets them).
   */
  private setScrollback(rows: number): void {
    const buffers = cursorColumns(this.terminal)
    const kept = buffers.map((buffer) => [Reflect.get(buffer, "x"), Reflect.get(buffer, "savedX")] as const)
    this.terminal.options.scrollback = rows
    buffers.forEach((buffer, i) => {
      Reflect.set(buffer, "x", kept[i]![0])
      Reflect.set(buffer, "savedX", kept[i]![1])
    })
  }

  private dropMarker(): void {
    this.marker?.dispose()
    this.marker = null
  }

  /** Keeps at most `scrollback` saved rows. */
  private trim(): void {
    const excess = this.savedRows - this.options.scrollback
    if (excess > 0) this.head += excess
    if (this.head > 1024 && this.head * 2 > this.rows.length) {
      this.rows = this.rows.slice(this.head)
      this.head = 0
    }
  }
}

/** xterm's normal and alternate buffers, where their cursor columns are numbers as expected; none otherwise. */
const cursorColumns = (terminal: Terminal): ReadonlyArray<object> => {
  const core: unknown = Reflect.get(terminal, "_core")
  if (typeof core !== "object" || core === null) return []
  const buffers: unknown = Reflect.get(core, "buffers")
  if (typeof buffers !== "object" || buffers === null) return []
  const found: Array<object> = []
  for (const name of ["normal", "alt"]) {
    const buffer: unknown = Reflect.get(buffers, name)
    if (typeof buffer !== "object" || buffer === null) return []
    if (typeof Reflect.get(buffer, "x") !== "number" || typeof Reflect.get(buffer, "savedX") !== "number") return []
    found.push(buffer)
  }
  return found
}

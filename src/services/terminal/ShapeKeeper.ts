/**
 * One tiny screen kept open for the life of a thread that mirrors screens,
 * so the optimized code of the mirror survives full garbage collections.
 *
 * V8's optimized code refers weakly to the hidden classes ("maps") of the
 * objects it was specialized for. Once no object of a shape is left alive,
 * a full collection frees the shape and throws away every optimized
 * function that refers to it ("weak objects" in `--trace-deopt-verbose`);
 * the next burst of output then runs unoptimized code and compiles it all
 * again. Some objects on the mirror's hot paths live only briefly: the row
 * views xterm hands out (`buffer.getLine`) and the scrollback marker that
 * `CompactScrollback` moves every batch; and once the last terminal closes,
 * none of xterm's objects are left. Measured with `--trace-opt`: about 20 of
 * the mirror's functions were compiled again after every full collection of
 * its thread (100–150 ms of compiler threads per burst of output in
 * `npm run bench:relay`); with this screen kept, about 5.
 *
 * What it holds: a 20 × 4 headless xterm with the serialize addon and a
 * compact scrollback of 8 rows (4 in xterm), after output that scrolled rows
 * into the saved part (so its marker exists), and one row view. A few
 * kilobytes.
 */
import { SerializeAddon } from "@xterm/addon-serialize"
import type { IBufferCell, IBufferLine } from "@xterm/headless"
import { Terminal } from "@xterm/headless"
import { CompactScrollback } from "./CompactScrollback.js"

export class ShapeKeeper {
  private readonly terminal: Terminal
  private readonly serializer: SerializeAddon
  private readonly compact: CompactScrollback
  /** A row view and a cell: objects of shapes that otherwise only live briefly. */
  private rowView: IBufferLine | undefined
  private cell: IBufferCell | undefined

  constructor() {
    this.terminal = new Terminal({ cols: 20, rows: 4, scrollback: 4, allowProposedApi: true, logLevel: "off" })
    this.serializer = new SerializeAddon()
    this.terminal.loadAddon(this.serializer)
    this.compact = new CompactScrollback(this.terminal, { scrollback: 8, hotRows: 4, batchRows: 2 })
    let output = ""
    for (let line = 0; line < 16; line++) output += `\x1b[3${line % 8}mrow ${line}\x1b[0m ${"-".repeat(line)}\r\n`
    this.terminal.write(output, () => {
      const buffer = this.terminal.buffer.normal
      this.rowView = buffer.getLine(0)
      this.cell = this.rowView?.getCell(0, buffer.getNullCell())
    })
  }

  /** Whether the screen is written and holds what it is for (tests). */
  get ready(): boolean {
    return this.rowView !== undefined && this.cell !== undefined && this.compact.savedRows > 0
  }

  /** The kept screen as a snapshot would give it (tests). */
  snapshot(): string {
    return this.compact.snapshot(this.serializer, 64 * 1024)
  }

  dispose(): void {
    this.compact.dispose()
    this.serializer.dispose()
    this.terminal.dispose()
  }
}

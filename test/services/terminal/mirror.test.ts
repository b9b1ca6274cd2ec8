import { assert, describe, expect, it } from "@effect/vitest"
import { Terminal } from "@xterm/headless"
import * as fc from "fast-check"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { afterAll } from "vitest"
import {
  type MirrorSegment,
  type MirrorSnapshot,
  TerminalMirror,
  type TerminalMirrorOptions
} from "../../../src/services/terminal/TerminalMirror.js"

const bytes = (text: string) => new TextEncoder().encode(text)
const directory = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "tether-mirror-"))
afterAll(() => NodeFs.rmSync(directory, { recursive: true, force: true }))
let files = 0

/** A transcript-like output file and a mirror following it (as the relay drives one). */
const follow = (options: Omit<TerminalMirrorOptions, "file" | "segment">) => {
  const file = NodePath.join(directory, `out-${++files}`)
  NodeFs.writeFileSync(file, "")
  let segment: MirrorSegment = { offset: 0, position: 0 }
  let end = 0
  let position = 0
  const mirror = new TerminalMirror({ ...options, file, segment })
  return {
    mirror,
    get end() {
      return end
    },
    append(data: string | Uint8Array) {
      const chunk = typeof data === "string" ? bytes(data) : data
      NodeFs.appendFileSync(file, chunk)
      end += chunk.length
      position += chunk.length
      mirror.stored(end, segment)
    },
    /** Output lost: the stream continues at `offset` (as RelayTerminal.recordGap and Transcript.gap do it). */
    gap(offset: number) {
      mirror.resetAt(offset)
      segment = { offset, position }
      end = offset
      mirror.stored(end, segment)
    },
    snapshot(maxBytes?: number) {
      return new Promise<MirrorSnapshot>((resolve) => mirror.snapshot(end, resolve, maxBytes))
    }
  }
}

/** The visible screen of a fresh terminal fed `data`. */
const render = (cols: number, rows: number, data: string | Uint8Array) =>
  new Promise<ReadonlyArray<string>>((resolve) => {
    const terminal = new Terminal({ cols, rows, allowProposedApi: true })
    terminal.write(data, () => {
      const buffer = terminal.buffer.active
      const lines: Array<string> = []
      for (let y = 0; y < rows; y++) lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? "")
      terminal.dispose()
      resolve(lines)
    })
  })

/** What a terminal attached from the start shows after `data`: its serialization (the snapshot it would give). */
const reference = async (options: { cols: number; rows: number; scrollback: number }, data: Uint8Array) => {
  const { SerializeAddon } = await import("@xterm/addon-serialize")
  const terminal = new Terminal({ ...options, allowProposedApi: true, logLevel: "off" })
  const serializer = new SerializeAddon()
  terminal.loadAddon(serializer)
  await new Promise<void>((resolve) => terminal.write(data, resolve))
  const out = serializer.serialize({ scrollback: terminal.buffer.active.length })
  terminal.dispose()
  return out
}

describe("TerminalMirror", () => {
  it("a snapshot after clear and a full-screen redraw renders what a viewer attached from the start sees", async () => {
    const stream = [
      "$ ls\r\nREADME.md  src  test\r\n",
      "\x1b[31mred\x1b[0m plain\r\n",
      "\x1b[2J\x1b[H", // clear
      "\x1b[?1049h\x1b[2J\x1b[1;1Htop - load 0.1\x1b[5;10Hmiddle\x1b[24;1Hstatus line", // alternate screen, full-screen app
      "\x1b[5;10HMIDDLE"
    ]
    const output = follow({ cols: 80, rows: 24 })
    for (const chunk of stream) output.append(chunk)
    const snapshot = await output.snapshot()
    expect(snapshot.offset).toBe(bytes(stream.join("")).length)
    expect([snapshot.cols, snapshot.rows]).toEqual([80, 24])
    const late = await render(80, 24, snapshot.data)
    const early = await render(80, 24, stream.join(""))
    expect(late).toEqual(early)
    expect(late[0]).toBe("top - load 0.1")
    expect(late[4]).toBe("         MIDDLE")
    output.mirror.dispose()
  })

  it("once output is quiet the snapshot is precomputed: a late joiner gets it at once, and new output invalidates it", async () => {
    const output = follow({ cols: 40, rows: 5, precompute: { maxBytes: 1_000_000, idleMs: 20 } })
    output.append("line one\r\nline two\r\n\x1b[1mbold\x1b[0m")
    await new Promise((r) => setTimeout(r, 120))
    let immediate: MirrorSnapshot | null = null
    output.mirror.snapshot(output.end, (snapshot) => {
      immediate = snapshot
    }, 1_000_000)
    assert.isNotNull(immediate, "served from the precomputed snapshot, synchronously")
    assert.strictEqual((immediate as MirrorSnapshot | null)?.data, await reference({ cols: 40, rows: 5, scrollback: 10_000 }, bytes("line one\r\nline two\r\n\x1b[1mbold\x1b[0m")))
    output.append(" more")
    let late: MirrorSnapshot | null = null
    output.mirror.snapshot(output.end, (snapshot) => {
      late = snapshot
    }, 1_000_000)
    assert.isNull(late, "after new output the snapshot waits for the parser again")
    const after = await output.snapshot()
    assert.include(after.data, "more")
    output.mirror.dispose()
  })

  it("a snapshot served to an early joiner does not stop the precompute after later output", async () => {
    const output = follow({ cols: 40, rows: 5, precompute: { maxBytes: 1_000_000, idleMs: 20 } })
    output.append("early\r\n")
    await output.snapshot(1_000_000)
    output.append("later")
    await new Promise((r) => setTimeout(r, 120))
    let immediate: MirrorSnapshot | null = null
    output.mirror.snapshot(output.end, (snapshot) => {
      immediate = snapshot
    }, 1_000_000)
    assert.isNotNull(immediate, "served from the snapshot precomputed once output went quiet")
    assert.include((immediate as MirrorSnapshot | null)?.data, "later")
    output.mirror.dispose()
  })

  it("resizes and snapshots apply at their place in the stream", async () => {
    const output = follow({ cols: 20, rows: 5 })
    output.append("0123456789012345678901234")
    output.mirror.resize(25, 40, 5)
    const snapshot = await output.snapshot()
    expect(snapshot.cols).toBe(40)
    expect(snapshot.offset).toBe(25)
    output.append("more")
    expect((await output.snapshot()).offset).toBe(29)
    output.mirror.dispose()
  })

  it("answers each snapshot once, also when its callback disposes the mirror (the waiting one is answered empty)", async () => {
    const output = follow({ cols: 20, rows: 3 })
    output.append("hello")
    const answers: Array<MirrorSnapshot> = []
    const waitingAnswers: Array<MirrorSnapshot> = []
    await new Promise<void>((resolve) => {
      output.mirror.snapshot(output.end, (snapshot) => {
        answers.push(snapshot)
        output.mirror.dispose()
        // Let anything still due arrive before counting.
        setTimeout(resolve, 20)
      })
      output.mirror.snapshot(output.end, (snapshot) => waitingAnswers.push(snapshot))
    })
    expect(answers.length).toBe(1)
    expect(answers[0]!.data).not.toBe("")
    expect(waitingAnswers.map((snapshot) => snapshot.data)).toEqual([""])
  })

  it("after a gap the screen starts blank at the new offset", async () => {
    const output = follow({ cols: 20, rows: 3 })
    output.append("before the gap")
    output.gap(1000)
    output.append("after")
    const snapshot = await output.snapshot()
    expect(snapshot.offset).toBe(1005)
    const screen = await render(20, 3, snapshot.data)
    expect(screen[0]).toBe("after")
    output.mirror.dispose()
  })

  it("plain output that scrolls out of the scrollback is skipped, not parsed, and the snapshot is still exact", async () => {
    const options = { cols: 80, rows: 24, scrollback: 1000 }
    // A build log: colours, CRLF lines, an erase-in-line progress tick; 4 MB of it.
    const line = (i: number) => `\x1b[32mok\x1b[0m ${String(i).padStart(7, "0")} compiling module ${"x".repeat(i % 50)}\r\x1b[K done ${i}\r\n`
    let text = "\x1b[?25l\x1b[1;1H\x1b[2Jheader drawn by cursor addressing\r\n"
    for (let i = 0; text.length < 4_000_000; i++) text += line(i)
    const stream = bytes(text)
    const output = follow({ ...options })
    for (let at = 0; at < stream.length; at += 65_536) output.append(stream.subarray(at, at + 65_536))
    const snapshot = await output.snapshot()
    expect(snapshot.data).toBe(await reference(options, stream))
    expect(output.mirror.stats.skipped).toBeGreaterThan(3_000_000)
    expect(output.mirror.stats.parsed).toBeLessThan(1_000_000)
    output.mirror.dispose()
  })

  it("a program printing without any line break (it only wraps) is skipped exactly too", async () => {
    const options = { cols: 80, rows: 24, scrollback: 1000 }
    const stream = bytes("\x1b[1mstart " + "x".repeat(3_000_000) + "y".repeat(123))
    const output = follow({ ...options })
    for (let at = 0; at < stream.length; at += 100_000) output.append(stream.subarray(at, at + 100_000))
    const snapshot = await output.snapshot()
    expect(snapshot.data).toBe(await reference(options, stream))
    expect(output.mirror.stats.skipped).toBeGreaterThan(2_000_000)
    output.mirror.dispose()
  })

  it("output the scanner cannot vouch for is parsed, never skipped", async () => {
    const options = { cols: 40, rows: 10, scrollback: 50 }
    // Cursor addressing every line: nothing may be skipped.
    let text = ""
    for (let i = 0; i < 20_000; i++) text += `\x1b[${(i % 10) + 1};1Hrow ${i}\r\n`
    const stream = bytes(text)
    const output = follow({ ...options, skipTuning: { markInterval: 256, minSkipBytes: 1 } })
    output.append(stream)
    const snapshot = await output.snapshot()
    expect(snapshot.data).toBe(await reference(options, stream))
    expect(output.mirror.stats.skipped).toBe(0)
    output.mirror.dispose()
  })
})

/** Pieces of terminal output: plain ones the mirror may skip, and every kind it must not. */
const textPiece = fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789 .,-_=+"), maxLength: 40 })
const sgrPiece = fc.constantFrom(
  "\x1b[0m", "\x1b[m", "\x1b[1m", "\x1b[31m", "\x1b[;32m", "\x1b[38;5;200m", "\x1b[48;2;1;2;3m", "\x1b[4:3m", "\x1b[7m", "\x1b[0;1;4m"
)
const plainNoSgr = fc.oneof(
  textPiece,
  fc.constantFrom("\r\n", "\n", "\r", "\t", "\x07", "\x7f", "\v", "\f"),
  fc.constantFrom("\x1b[K", "\x1b[0K", "\x1b[1K", "\x1b[2K"),
  fc.constantFrom("é", "漢字", "👍", "e\u0301", "\u00a0")
)
const bulkPiece = fc.oneof(
  fc.integer({ min: 1, max: 60 }).map((n) => "line of text\r\n".repeat(n)),
  fc.integer({ min: 1, max: 60 }).map((n) => "no carriage return\n".repeat(n)),
  fc.integer({ min: 1, max: 400 }).map((n) => "w".repeat(n))
)
const plainPiece = fc.oneof(plainNoSgr, sgrPiece, bulkPiece)
const otherPiece = fc.constantFrom(
  "\x1b[H", "\x1b[3;4H", "\x1b[2J", "\x1b[3J", "\x1b[A", "\x1b[2B", "\x1b[5G", "\x08", "\x1b7", "\x1b8",
  "\x1b[?1049h", "\x1b[?1049l", "\x1b[?7l", "\x1b[?7h", "\x1b[2;4r", "\x1b[r", "\x1b[4h", "\x1b[4l", "\x1b[20h", "\x1b[20l",
  "\x1b(0", "\x1b(B", "\x0e", "\x0f", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\", "\x1bc", "\x1b[?45h", "\x1b[3g", "\x1bH",
  "\x1b[", "\x1b", "\u009b1m", "\xc2", "\x1b[?1h", "\x1b[5b", "\x1bP1$r\x1b\\", "\x1b[>4;1m", "\x1b[1$m", "\x18", "\x00"
)
const anyPiece = fc.oneof({ weight: 5, arbitrary: plainPiece }, { weight: 2, arbitrary: otherPiece })
/** Some output of any kind, a burst of plain output (what may be skipped), then a little plain output without colours. */
const scenario = fc.tuple(
  fc.array(anyPiece, { maxLength: 30 }),
  fc.array(plainPiece, { maxLength: 30 }),
  fc.array(fc.oneof(plainNoSgr, bulkPiece), { maxLength: 8 }),
  fc.array(anyPiece, { maxLength: 3 })
).map((parts) => parts.flat().join(""))

describe("TerminalMirror skipping (property)", () => {
  it("every snapshot equals the screen of a terminal that parsed every byte", async () => {
    let skippedRuns = 0
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          cols: fc.integer({ min: 4, max: 16 }),
          rows: fc.integer({ min: 2, max: 6 }),
          scrollback: fc.integer({ min: 0, max: 12 }),
          markInterval: fc.integer({ min: 1, max: 64 }),
          lagBytes: fc.integer({ min: 1, max: 300 }),
          text: scenario,
          cuts: fc.array(fc.integer({ min: 1, max: 997 }), { minLength: 1, maxLength: 8 }),
          snapshots: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 })
        }),
        async ({ cols, rows, scrollback, markInterval, lagBytes, text, cuts, snapshots }) => {
          const options = { cols, rows, scrollback }
          const stream = bytes(text + "PROBE")
          const output = follow({ ...options, lagBytes, skipTuning: { markInterval, minSkipBytes: 1 } })
          // Snapshots at a few chunk ends (as viewers join), and at the end.
          const wanted = snapshots.map((f) => Math.floor(f * stream.length)).sort((a, b) => a - b)
          try {
            let at = 0
            for (let i = 0; at < stream.length; i++) {
              const size = cuts[i % cuts.length]!
              output.append(stream.subarray(at, at + size))
              at += size
              let due = false
              while (wanted.length > 0 && wanted[0]! <= at) {
                wanted.shift()
                due = true
              }
              if (due || at >= stream.length) {
                const snapshot = await output.snapshot()
                expect(snapshot.offset).toBe(output.end)
                expect(snapshot.data).toBe(await reference(options, stream.subarray(0, output.end)))
              }
            }
          } finally {
            if (output.mirror.stats.skips > 0) skippedRuns++
            output.mirror.dispose()
          }
        }
      ),
      { numRuns: 200, seed: 20261121 }
    )
    // The property must exercise skipping, not only parsing.
    expect(skippedRuns).toBeGreaterThan(60)
  }, 240_000)
})

describe("OffsetLog", () => {
  it("trimmed chunks are released: a ring trimmed to 4 MiB holds only what it keeps", async () => {
    const { OffsetLog } = await import("../../../src/services/terminal/OffsetLog.js")
    const log = new OffsetLog()
    for (let i = 0; i < 40; i++) {
      log.append(new Uint8Array(1024 * 1024).fill(i))
      log.trimToCapacity(4 * 1024 * 1024)
    }
    expect(log.size).toBe(4 * 1024 * 1024)
    expect(log.start).toBe(36 * 1024 * 1024)
    expect(log.copyFrom(log.start)?.[0]).toBe(36)
    // Reachability, not timing: the log references no trimmed chunk.
    const held = (log as unknown as { chunks: Array<{ data: Uint8Array }> }).chunks.filter((c) => c.data.length > 0)
    expect(held.length).toBe(4)
  })

  it("readFrom serves exact byte ranges across chunk boundaries and after partial trims", async () => {
    const { OffsetLog } = await import("../../../src/services/terminal/OffsetLog.js")
    const log = new OffsetLog(100)
    const text = "abcdefghijklmnopqrstuvwxyz"
    for (let i = 0; i < text.length; i += 5) log.append(new TextEncoder().encode(text.slice(i, i + 5)))
    log.trimTo(107)
    expect(new TextDecoder().decode(log.copyFrom(110)!)).toBe(text.slice(10))
    expect(log.readFrom(106)).toBeNull()
    expect(log.readFrom(126)).toEqual([])
    expect(log.readFrom(127)).toBeNull()
    expect(log.readFrom(107, 2)?.map((p) => new TextDecoder().decode(p.data)).slice(0, 3)).toEqual(["hi", "j", "kl"])
  })
})

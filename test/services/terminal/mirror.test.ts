import { assert, describe, expect, it } from "@effect/vitest"
import { Terminal } from "@xterm/headless"
import { type MirrorSnapshot, TerminalMirror } from "../../../src/services/terminal/TerminalMirror.js"

const bytes = (text: string) => new TextEncoder().encode(text)
const snapshotOf = (mirror: TerminalMirror) => new Promise<MirrorSnapshot>((resolve) => mirror.snapshot(resolve))

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

describe("TerminalMirror", () => {
  it("a snapshot after clear and a full-screen redraw renders what a viewer attached from the start sees", async () => {
    const stream = [
      "$ ls\r\nREADME.md  src  test\r\n",
      "\x1b[31mred\x1b[0m plain\r\n",
      "\x1b[2J\x1b[H", // clear
      "\x1b[?1049h\x1b[2J\x1b[1;1Htop - load 0.1\x1b[5;10Hmiddle\x1b[24;1Hstatus line", // alternate screen, full-screen app
      "\x1b[5;10HMIDDLE"
    ].map(bytes)
    const mirror = new TerminalMirror({ cols: 80, rows: 24 })
    let fromStart = ""
    for (const chunk of stream) {
      mirror.write(chunk)
      fromStart += new TextDecoder().decode(chunk)
    }
    const snapshot = await snapshotOf(mirror)
    expect(snapshot.offset).toBe(stream.reduce((n, c) => n + c.length, 0))
    expect([snapshot.cols, snapshot.rows]).toEqual([80, 24])
    const late = await render(80, 24, snapshot.data)
    const early = await render(80, 24, fromStart)
    expect(late).toEqual(early)
    expect(late[0]).toBe("top - load 0.1")
    expect(late[4]).toBe("         MIDDLE")
    mirror.dispose()
  })

  it("once output is quiet the snapshot is precomputed: a late joiner gets it at once, and any change invalidates it", async () => {
    const mirror = new TerminalMirror({ cols: 40, rows: 5, precompute: { maxBytes: 1_000_000, idleMs: 20 } })
    mirror.write(bytes("line one\r\nline two\r\n\x1b[1mbold\x1b[0m"))
    await new Promise((r) => setTimeout(r, 120))
    let immediate: MirrorSnapshot | null = null
    mirror.snapshot((snapshot) => {
      immediate = snapshot
    }, 1_000_000)
    assert.isNotNull(immediate, "served from the precomputed snapshot, synchronously")
    const reference = new TerminalMirror({ cols: 40, rows: 5 })
    reference.write(bytes("line one\r\nline two\r\n\x1b[1mbold\x1b[0m"))
    assert.deepStrictEqual(immediate, await snapshotOf(reference))
    mirror.write(bytes(" more"))
    let late: MirrorSnapshot | null = null
    mirror.snapshot((snapshot) => {
      late = snapshot
    }, 1_000_000)
    assert.isNull(late, "after new output the snapshot waits for the parser again")
    const after = await snapshotOf(mirror)
    assert.include(after.data, "more")
    mirror.dispose()
    reference.dispose()
  })

  it("resizes and snapshots apply at their place in the stream", async () => {
    const mirror = new TerminalMirror({ cols: 20, rows: 5 })
    mirror.write(bytes("0123456789012345678901234"))
    mirror.resize(40, 5)
    const snapshot = await snapshotOf(mirror)
    expect(snapshot.cols).toBe(40)
    expect(snapshot.offset).toBe(25)
    mirror.write(bytes("more"))
    expect(mirror.end).toBe(29)
    mirror.dispose()
  })

  it("after a gap the screen starts blank at the new offset", async () => {
    const mirror = new TerminalMirror({ cols: 20, rows: 3 })
    mirror.write(bytes("before the gap"))
    mirror.resetAt(1000)
    mirror.write(bytes("after"))
    const snapshot = await snapshotOf(mirror)
    expect(snapshot.offset).toBe(1005)
    const screen = await render(20, 3, snapshot.data)
    expect(screen[0]).toBe("after")
    mirror.dispose()
  })
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

/**
 * RelayTerminal alone, with in-memory sockets and a real transcript file:
 * retransmissions, gaps, typeahead, exit and the runner's acknowledgements.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { decodeFrame, encodeFrame, type JsonObject, type TerminalFrame } from "../../../src/domain/terminal-frame.js"
import { RingBlockPool } from "../../../src/services/terminal/OutputRing.js"
import { type FrameSocket, RelayTerminal, type RelayTerminalOptions, runnerHello } from "../../../src/services/terminal/RelayTerminal.js"
import { type ScreenMirror, TerminalMirror } from "../../../src/services/terminal/TerminalMirror.js"
import { Transcript } from "../../../src/services/terminal/Transcript.js"

interface FakeSocket extends FrameSocket {
  readonly frames: Array<TerminalFrame>
  closed: { readonly code: number; readonly reason: string } | null
}

const fakeSocket = (): FakeSocket => {
  const socket: FakeSocket = {
    frames: [],
    closed: null,
    send: (frame) => {
      const decoded = decodeFrame(frame)
      if (Either.isLeft(decoded)) throw new Error(decoded.left.message)
      socket.frames.push(decoded.right)
    },
    close: (code, reason) => {
      socket.closed = { code, reason }
    },
    bufferedAmount: () => 0
  }
  return socket
}

const encode = (frame: TerminalFrame) => Either.getOrThrow(encodeFrame(frame))
const output = (offset: number, text: string): [TerminalFrame, Uint8Array] => {
  const frame: TerminalFrame = { _tag: "Output", offset, data: new TextEncoder().encode(text) }
  return [frame, encode(frame)]
}
const outputText = (socket: FakeSocket) =>
  socket.frames.flatMap((f) => (f._tag === "Output" ? [new TextDecoder().decode(f.data)] : [])).join("")
const until = async (what: string, check: () => boolean) => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5))
  if (!check()) throw new Error(`timed out waiting for ${what}`)
}

const makeTerminal = (gaps: Array<[number, number]> = [], options: Partial<RelayTerminalOptions> = {}) => {
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "tether-relay-unit-"))
  const transcript = Transcript.open(dir, "ses_unit")
  const terminal = new RelayTerminal({
    sessionId: "ses_unit",
    transcript,
    initialSize: { cols: 80, rows: 24 },
    onGap: (from, to) => gaps.push([from, to]),
    ...options
  })
  return { terminal, dir, transcript }
}

/** A ScreenMirror passing everything to `mirror`, but for `overrides` (a test's way to watch or break one). */
const delegatingTo = (
  mirror: TerminalMirror,
  overrides: Partial<Pick<ScreenMirror, "snapshot" | "onFailure" | "dispose">>
): ScreenMirror => ({
  get backlog() {
    return mirror.backlog
  },
  stored: (end, segment) => mirror.stored(end, segment),
  resetAt: (offset) => mirror.resetAt(offset),
  resize: (offset, cols, rows) => mirror.resize(offset, cols, rows),
  snapshot: overrides.snapshot ?? ((offset, onReady, maxBytes) => mirror.snapshot(offset, onReady, maxBytes)),
  onProgress: (listener) => mirror.onProgress(listener),
  onFailure: overrides.onFailure ?? ((listener) => mirror.onFailure(listener)),
  dispose: overrides.dispose ?? (() => mirror.dispose())
})

/** A runner link and one viewer that has joined (RESUME 0 → its SNAPSHOT). */
const withRunnerAndViewer = async (terminal: RelayTerminal, canWrite = false) => {
  const runner = fakeSocket()
  terminal.attachRunner(runner, { cols: 80, rows: 24 })
  const viewer = fakeSocket()
  const v = terminal.addViewer(viewer, { id: "v1", name: "viewer", canWrite })
  terminal.viewerFrame(v, { _tag: "Resume", offset: 0 })
  await until("the snapshot", () => viewer.frames.some((f) => f._tag === "Snapshot"))
  return { runner, viewer, v }
}

describe("RelayTerminal", () => {
  it("a stalled viewer continues from the transcript on disk while it is close enough to the live end, else from a snapshot", async () => {
    const KiB = 1024
    const { terminal, transcript } = makeTerminal([], { ringBytes: 64 * KiB, viewerQueueBytes: 64 * KiB, replayBytes: 256 * KiB })
    const { runner, viewer, v } = await withRunnerAndViewer(terminal)
    let sent = ""
    const produce = (bytes: number) => {
      for (let i = 0; i < bytes / 4096; i++) {
        const text = String.fromCharCode(97 + ((sent.length / 4096) % 26)).repeat(4096)
        terminal.runnerFrame(runner, ...output(sent.length, text))
        sent += text
      }
    }
    produce(200 * KiB)
    assert.isBelow(outputText(viewer).length, 100 * KiB, "stalled after its queue's worth")
    await until("the transcript", () => transcript.end === sent.length)
    // It acknowledges what it got, again and again: the rest comes from the transcript, nothing is skipped.
    for (let i = 0; i < 20 && outputText(viewer).length < sent.length; i++) {
      terminal.viewerFrame(v, { _tag: "Ack", offset: v.sentEnd })
    }
    assert.strictEqual(outputText(viewer), sent)
    assert.strictEqual(viewer.frames.filter((f) => f._tag === "Snapshot").length, 1)
    assert.isAbove(terminal.stats.replayed, 100 * KiB)
    // Further behind than replayBytes: a snapshot.
    produce(400 * KiB)
    await until("the transcript", () => transcript.end === sent.length)
    terminal.viewerFrame(v, { _tag: "Ack", offset: v.sentEnd })
    await until("a resync snapshot", () => viewer.frames.filter((f) => f._tag === "Snapshot").length === 2)
    terminal.dispose()
  })

  it("a stalled viewer behind the ring waits for bytes the transcript is still writing, then continues exactly (no resync)", async () => {
    const KiB = 1024
    const { terminal, transcript } = makeTerminal([], { ringBytes: 64 * KiB, viewerQueueBytes: 64 * KiB, replayBytes: 1024 * KiB })
    const { runner, viewer, v } = await withRunnerAndViewer(terminal)
    let sent = ""
    for (let i = 0; i < 50; i++) {
      const text = String.fromCharCode(97 + (i % 26)).repeat(4096)
      terminal.runnerFrame(runner, ...output(sent.length, text))
      sent += text
    }
    // In the same turn (nothing is on disk yet), it acknowledges what it got: the rest has left the ring.
    assert.isBelow(transcript.end, sent.length - 64 * KiB)
    terminal.viewerFrame(v, { _tag: "Ack", offset: v.sentEnd })
    await until("every byte", () => {
      if (outputText(viewer).length < sent.length) terminal.viewerFrame(v, { _tag: "Ack", offset: v.sentEnd })
      return outputText(viewer).length >= sent.length
    })
    assert.strictEqual(outputText(viewer), sent)
    assert.strictEqual(viewer.frames.filter((f) => f._tag === "Snapshot").length, 1)
    terminal.dispose()
  })

  it("drops retransmitted bytes, trims overlaps, acknowledges what is on disk and closes the runner after EXIT", async () => {
    const { dir, terminal } = makeTerminal()
    const { runner, viewer } = await withRunnerAndViewer(terminal, true)
    assert.deepStrictEqual(runner.frames[0], { _tag: "Resume", offset: 0 })
    terminal.runnerFrame(runner, ...output(0, "hello "))
    terminal.runnerFrame(runner, ...output(0, "hello ")) // retransmitted after a reconnect
    terminal.runnerFrame(runner, ...output(3, "lo world")) // overlaps by 3 bytes
    assert.strictEqual(outputText(viewer), "hello world")
    terminal.runnerFrame(runner, { _tag: "Exit", code: 0, signal: null }, new Uint8Array())
    await until("the final ack and close", () => runner.closed !== null)
    assert.deepStrictEqual(runner.closed, { code: 1000, reason: "exit recorded" })
    assert.deepInclude(runner.frames, { _tag: "Ack", offset: 11 })
    assert.deepInclude(viewer.frames, { _tag: "Exit", code: 0, signal: null })
    assert.strictEqual(NodeFs.readFileSync(NodePath.join(dir, "ses_unit.out"), "utf8"), "hello world")
    terminal.dispose()
  })

  it("a jump forward is a recorded gap: viewers get a fresh snapshot at the new offset, the transcript a new segment", async () => {
    const gaps: Array<[number, number]> = []
    const { dir, terminal } = makeTerminal(gaps)
    const runner = fakeSocket()
    terminal.attachRunner(runner, { cols: 80, rows: 24 })
    const viewer = fakeSocket()
    const v = terminal.addViewer(viewer, { id: "v1", name: "viewer", canWrite: false })
    terminal.viewerFrame(v, { _tag: "Resume", offset: 0 })
    terminal.runnerFrame(runner, ...output(0, "before"))
    await until("live", () => outputText(viewer).includes("before"))
    terminal.runnerFrame(runner, ...output(1000, "after"))
    await until("the second snapshot", () => viewer.frames.filter((f) => f._tag === "Snapshot").length === 2)
    assert.deepStrictEqual(gaps, [[6, 1000]])
    const snapshots = viewer.frames.filter((f) => f._tag === "Snapshot")
    assert.strictEqual(snapshots[1]?._tag === "Snapshot" ? snapshots[1].offset : -1, 1000)
    await until("the new bytes after the snapshot", () => outputText(viewer).endsWith("after"))
    await until("the index", () => NodeFs.readFileSync(NodePath.join(dir, "ses_unit.idx"), "utf8").includes("1000"))
    assert.strictEqual(terminal.end, 1005)
    terminal.dispose()
  })

  it("a session that finished while its runner is still delivering a backlog ends with the runner's EXIT, after the last byte", async () => {
    const { terminal } = makeTerminal()
    const { runner, viewer } = await withRunnerAndViewer(terminal)
    terminal.sessionFinished(0, 60) // the status came first; the backlog takes longer than the grace
    let sent = ""
    for (let i = 0; i < 8; i++) {
      const text = `chunk ${i};`
      terminal.runnerFrame(runner, ...output(sent.length, text))
      sent += text
      await new Promise((r) => setTimeout(r, 25))
    }
    assert.isFalse(viewer.frames.some((f) => f._tag === "Exit"), "no EXIT while output still arrives")
    terminal.runnerFrame(runner, { _tag: "Exit", code: 0, signal: null }, new Uint8Array())
    const exitAt = viewer.frames.findIndex((f) => f._tag === "Exit")
    assert.isAbove(exitAt, 0)
    assert.strictEqual(outputText(viewer), sent)
    assert.isFalse(viewer.frames.slice(exitAt).some((f) => f._tag === "Output"), "nothing after EXIT")
    // With a silent link the grace still ends it.
    const other = makeTerminal()
    other.terminal.attachRunner(fakeSocket(), { cols: 80, rows: 24 })
    other.terminal.sessionFinished(5, 60)
    await until("the grace", () => other.terminal.state === "exited")
    terminal.dispose()
    other.terminal.dispose()
  })

  it("a session that finished while its runner was away: the reconnecting runner still delivers the output it holds, then EXIT closes the link", async () => {
    const { terminal, dir } = makeTerminal()
    const first = fakeSocket()
    terminal.attachRunner(first, { cols: 80, rows: 24 })
    terminal.runnerFrame(first, ...output(0, "start "))
    terminal.runnerClosed(first)
    terminal.sessionFinished(3) // the session's status said so while the link was down
    assert.strictEqual(terminal.state, "exited")
    const again = fakeSocket()
    terminal.attachRunner(again, { cols: 80, rows: 24 })
    await new Promise((r) => setTimeout(r, 50))
    assert.isNull(again.closed, "not closed before the runner delivered its EXIT")
    terminal.runnerFrame(again, ...output(6, "and the rest"))
    terminal.runnerFrame(again, { _tag: "Exit", code: 3, signal: null }, new Uint8Array())
    await until("the close after EXIT", () => again.closed !== null)
    assert.deepStrictEqual(again.closed as FakeSocket["closed"], { code: 1000, reason: "exit recorded" })
    assert.strictEqual(NodeFs.readFileSync(NodePath.join(dir, "ses_unit.out"), "utf8"), "start and the rest")
    terminal.dispose()
  })

  it("keystrokes typed while the runner link is down are delivered, in order, when it is back; read-only ones never", async () => {
    const { terminal } = makeTerminal()
    const writer = fakeSocket()
    const reader = fakeSocket()
    const w = terminal.addViewer(writer, { id: "w", name: "writer", canWrite: true })
    const r = terminal.addViewer(reader, { id: "r", name: "reader", canWrite: false })
    terminal.viewerFrame(w, { _tag: "Resume", offset: 0 })
    terminal.viewerFrame(r, { _tag: "Resume", offset: 0 })
    terminal.viewerFrame(w, { _tag: "Input", data: new TextEncoder().encode("ls") })
    terminal.viewerFrame(r, { _tag: "Input", data: new TextEncoder().encode("rm -rf") })
    terminal.viewerFrame(w, { _tag: "Input", data: new TextEncoder().encode("\r") })
    assert.deepInclude(reader.frames.map((f) => (f._tag === "Error" ? f.code : null)), 4403)
    assert.deepInclude(writer.frames.map((f) => (f._tag === "Metadata" ? f.data["state"] : null)), "reconnecting")
    const runner = fakeSocket()
    terminal.attachRunner(runner, { cols: 100, rows: 30 })
    const typed = runner.frames.flatMap((f) => (f._tag === "Input" ? [new TextDecoder().decode(f.data)] : []))
    assert.deepStrictEqual(typed, ["ls", "\r"])
    assert.deepInclude(writer.frames, { _tag: "Resize", cols: 100, rows: 30 }, "viewers follow the PTY's size")
    terminal.dispose()
  })

  it("keystrokes written to a runner link that broke before the runner read them are written again, exactly once, on its next link", () => {
    const { terminal } = makeTerminal()
    const writer = fakeSocket()
    const w = terminal.addViewer(writer, { id: "w", name: "writer", canWrite: true })
    terminal.viewerFrame(w, { _tag: "Resume", offset: 0 })
    const typedOn = (socket: FakeSocket) => socket.frames.flatMap((f) => (f._tag === "Input" ? [new TextDecoder().decode(f.data)] : [])).join("")
    const first = fakeSocket()
    terminal.attachRunner(first, { cols: 80, rows: 24, inputEnd: 0 })
    terminal.viewerFrame(w, { _tag: "Input", data: new TextEncoder().encode("echo ") })
    terminal.viewerFrame(w, { _tag: "Input", data: new TextEncoder().encode("hello\r") })
    assert.strictEqual(typedOn(first), "echo hello\r")
    // The link broke after the runner read "ech": the rest was written into the void.
    terminal.runnerClosed(first)
    terminal.viewerFrame(w, { _tag: "Input", data: new TextEncoder().encode("ls\r") }) // typeahead
    const second = fakeSocket()
    terminal.attachRunner(second, { cols: 80, rows: 24, inputEnd: 3 })
    assert.strictEqual(typedOn(second), "o hello\rls\r")
    // It read everything this time: nothing is written again on the third link.
    terminal.runnerClosed(second)
    const third = fakeSocket()
    terminal.attachRunner(third, { cols: 80, rows: 24, inputEnd: 14 })
    assert.strictEqual(typedOn(third), "")
    // A runner that received more than this server sent (a restarted server): its count is taken.
    terminal.runnerClosed(third)
    const fourth = fakeSocket()
    terminal.attachRunner(fourth, { cols: 80, rows: 24, inputEnd: 1000 })
    terminal.viewerFrame(w, { _tag: "Input", data: new TextEncoder().encode("q") })
    terminal.runnerClosed(fourth)
    const fifth = fakeSocket()
    terminal.attachRunner(fifth, { cols: 80, rows: 24, inputEnd: 1000 })
    assert.strictEqual(typedOn(fifth), "q")
    terminal.dispose()
  })

  it("keystrokes sent to the runner are forgotten after a while (typed secrets do not linger)", async () => {
    const { terminal } = makeTerminal([], { sentInputKeptMs: 30 })
    const writer = fakeSocket()
    const w = terminal.addViewer(writer, { id: "w", name: "writer", canWrite: true })
    terminal.viewerFrame(w, { _tag: "Resume", offset: 0 })
    const first = fakeSocket()
    terminal.attachRunner(first, { cols: 80, rows: 24, inputEnd: 0 })
    terminal.viewerFrame(w, { _tag: "Input", data: new TextEncoder().encode("hunter2\r") })
    await new Promise((r) => setTimeout(r, 120))
    terminal.runnerClosed(first)
    const second = fakeSocket()
    terminal.attachRunner(second, { cols: 80, rows: 24, inputEnd: 0 })
    assert.deepStrictEqual(second.frames.filter((f) => f._tag === "Input"), [])
    terminal.dispose()
  })

  it("an ended terminal nobody watches keeps only its final screen; viewers still get it, resumers the exact bytes, late output the whole screen", async () => {
    const mirrors = { opened: 0, disposed: 0 }
    const blockPool = new RingBlockPool(8)
    const { terminal } = makeTerminal([], {
      blockPool,
      mirrorFactory: (options) => {
        mirrors.opened++
        const mirror = new TerminalMirror(options)
        return delegatingTo(mirror, {
          dispose: () => {
            mirrors.disposed++
            mirror.dispose()
          }
        })
      }
    })
    const { runner, viewer, v } = await withRunnerAndViewer(terminal)
    terminal.runnerFrame(runner, ...output(0, "first line\r\n"))
    terminal.runnerFrame(runner, ...output(12, "second line\r\n"))
    terminal.runnerFrame(runner, { _tag: "Exit", code: 0, signal: null }, new Uint8Array())
    await until("the runner link's close", () => runner.closed !== null)
    terminal.runnerClosed(runner)
    assert.isFalse(terminal.released, "a viewer still watches")
    terminal.removeViewer(v)
    await until("the release", () => terminal.released)
    assert.deepStrictEqual(mirrors, { opened: 1, disposed: 1 })
    assert.strictEqual(blockPool.size, 1, "the ring's block went back to the shared pool")
    assert.include(outputText(viewer), "second line")

    const joiner = fakeSocket()
    terminal.viewerFrame(terminal.addViewer(joiner, { id: "v2", name: "joiner", canWrite: false }), { _tag: "Resume", offset: 0 })
    const snapshot = joiner.frames.find((f) => f._tag === "Snapshot")
    assert.include(snapshot?._tag === "Snapshot" ? snapshot.data : "", "second line", "the final screen, at once")
    assert.strictEqual(snapshot?._tag === "Snapshot" ? snapshot.offset : -1, 25)
    assert.deepInclude(joiner.frames, { _tag: "Exit", code: 0, signal: null })

    const resumer = fakeSocket()
    terminal.viewerFrame(terminal.addViewer(resumer, { id: "v3", name: "resumer", canWrite: false }), { _tag: "Resume", offset: 12 })
    assert.isFalse(resumer.frames.some((f) => f._tag === "Snapshot"), "no snapshot for bytes still on disk")
    assert.strictEqual(outputText(resumer), "second line\r\n")
    assert.deepInclude(resumer.frames, { _tag: "Exit", code: 0, signal: null })
    assert.strictEqual(mirrors.opened, 1, "viewers of the final screen need no mirror")

    // A runner that still held output (its EXIT came first): the screen is rebuilt and goes on.
    const late = fakeSocket()
    terminal.attachRunner(late, { cols: 80, rows: 24 })
    terminal.runnerFrame(late, ...output(25, "third line"))
    await until("a rebuilt mirror", () => mirrors.opened === 2)
    const after = fakeSocket()
    terminal.viewerFrame(terminal.addViewer(after, { id: "v4", name: "after", canWrite: false }), { _tag: "Resume", offset: 0 })
    await until("its snapshot", () => after.frames.some((f) => f._tag === "Snapshot"))
    const rebuilt = after.frames.find((f) => f._tag === "Snapshot")
    const screen = rebuilt?._tag === "Snapshot" ? rebuilt.data : ""
    for (const line of ["first line", "second line", "third line"]) assert.include(screen, line)
    terminal.dispose()
    assert.strictEqual(mirrors.disposed, 2)
  })

  it("a runner whose hello says it holds nothing before `from` (the terminal moved here): the gap is recorded at once, and a viewer at `from` continues exactly", async () => {
    const gaps: Array<[number, number]> = []
    const { terminal } = makeTerminal(gaps)
    const runner = fakeSocket()
    terminal.attachRunner(runner, { cols: 80, rows: 24, from: 500 })
    assert.deepStrictEqual(gaps, [[0, 500]])
    assert.deepStrictEqual(runner.frames[0], { _tag: "Resume", offset: 500 })
    const viewer = fakeSocket()
    terminal.viewerFrame(terminal.addViewer(viewer, { id: "v", name: "viewer", canWrite: false }), { _tag: "Resume", offset: 500 })
    terminal.runnerFrame(runner, ...output(500, "after the move"))
    assert.isFalse(viewer.frames.some((f) => f._tag === "Snapshot"))
    assert.strictEqual(outputText(viewer), "after the move")
    // A runner that holds what the server already has: nothing is lost.
    const again = fakeSocket()
    terminal.attachRunner(again, { cols: 80, rows: 24, from: 510 })
    assert.deepStrictEqual(gaps, [[0, 500]])
    assert.deepStrictEqual(again.frames[0], { _tag: "Resume", offset: 514 })
    terminal.dispose()
  })

  it("the runner's hello: METADATA {cols, rows} and optionally `from` and `inputEnd`, safe integers ≥ 0", () => {
    const hello = (data: JsonObject) => runnerHello({ _tag: "Metadata", data })
    assert.deepStrictEqual(hello({ cols: 80, rows: 24 }), { cols: 80, rows: 24 })
    assert.deepStrictEqual(hello({ cols: 80, rows: 24, from: 42 }), { cols: 80, rows: 24, from: 42 })
    assert.deepStrictEqual(hello({ cols: 80, rows: 24, from: 42, inputEnd: 7 }), { cols: 80, rows: 24, from: 42, inputEnd: 7 })
    for (const from of [-1, 1.5, "42", null, 2 ** 53]) {
      assert.isNull(hello({ cols: 80, rows: 24, from }), String(from))
      assert.isNull(hello({ cols: 80, rows: 24, inputEnd: from }), String(from))
    }
    assert.isNull(hello({ cols: 0, rows: 24 }))
    assert.isNull(runnerHello({ _tag: "Resume", offset: 0 }))
  })

  it("a mirror that breaks is replaced by one rebuilt from the transcript (three times at most); a viewer waiting for its snapshot gets the rebuilt screen", async () => {
    const mirrors: Array<{ readonly fail: (message: string) => void }> = []
    const logs: Array<string> = []
    const { terminal, transcript } = makeTerminal([], {
      log: (message) => logs.push(message),
      mirrorFactory: (options): ScreenMirror => {
        const mirror = new TerminalMirror(options)
        // The first one never answers snapshots until it breaks (a worker that died), then answers them empty.
        const stuck = mirrors.length === 0
        const owed: Array<() => void> = []
        let failure: ((message: string) => void) | null = null
        mirrors.push({
          fail: (message) => {
            failure?.(message)
            for (const answer of owed.splice(0)) answer()
          }
        })
        return delegatingTo(mirror, {
          snapshot: (offset, onReady, maxBytes) =>
            stuck ? owed.push(() => onReady({ offset, cols: 80, rows: 24, data: "" })) : mirror.snapshot(offset, onReady, maxBytes),
          onFailure: (listener) => {
            failure = listener
          }
        })
      }
    })
    const runner = fakeSocket()
    terminal.attachRunner(runner, { cols: 80, rows: 24 })
    terminal.runnerFrame(runner, ...output(0, "before the break\r\n"))
    await until("the transcript", () => transcript.end === 18)
    const viewer = fakeSocket()
    terminal.viewerFrame(terminal.addViewer(viewer, { id: "v", name: "viewer", canWrite: false }), { _tag: "Resume", offset: 0 })
    assert.isFalse(viewer.frames.some((f) => f._tag === "Snapshot"))
    mirrors[0]!.fail("the screen mirror stopped (xterm threw)")
    await until("the rebuilt snapshot", () => viewer.frames.some((f) => f._tag === "Snapshot"))
    const snapshots = viewer.frames.filter((f) => f._tag === "Snapshot")
    assert.strictEqual(snapshots.length, 1, "the empty one owed by the broken mirror was not sent")
    assert.include(snapshots[0]?._tag === "Snapshot" ? snapshots[0].data : "", "before the break")
    assert.strictEqual(mirrors.length, 2)
    assert.include(logs[0], "rebuilding the screen from the transcript")
    // A terminal whose mirrors keep breaking stops rebuilding them.
    for (let i = 1; i <= 3; i++) mirrors[i]!.fail("the screen mirror stopped (the transcript vanished)")
    assert.strictEqual(mirrors.length, 4)
    assert.include(logs[logs.length - 1], "late joiners get an empty screen")
    terminal.dispose()
  })

  it("a newer runner link replaces the older one (4409); frames from the old one are ignored", () => {
    const { terminal } = makeTerminal()
    const first = fakeSocket()
    const second = fakeSocket()
    terminal.attachRunner(first, { cols: 80, rows: 24 })
    terminal.attachRunner(second, { cols: 80, rows: 24 })
    assert.strictEqual(first.closed?.code, 4409)
    terminal.runnerFrame(first, ...output(0, "stale"))
    assert.strictEqual(terminal.end, 0)
    terminal.runnerFrame(second, ...output(0, "fresh"))
    assert.strictEqual(terminal.end, 5)
    terminal.dispose()
  })
})

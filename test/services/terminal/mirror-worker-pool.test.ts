/**
 * MirrorWorkerPool with real worker threads (the built dist/mirror-worker.cjs
 * behind a fixture that makes it crash): a worker that dies is replaced and
 * the terminals' screens are rebuilt in the new one; one that keeps dying is
 * given up on, and the terminals' snapshots come back empty instead of
 * hanging. A big screen that closes is collected at once, so the next
 * terminal reuses its memory instead of adding its own.
 */
import { afterAll, afterEach, assert, beforeAll, describe, it } from "@effect/vitest"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as Either from "effect/Either"
import { decodeFrame, encodeFrame, type TerminalFrame } from "../../../src/domain/terminal-frame.js"
import { MirrorWorkerPool } from "../../../src/services/terminal/MirrorWorker.js"
import { type FrameSocket, RelayTerminal } from "../../../src/services/terminal/RelayTerminal.js"
import { Transcript } from "../../../src/services/terminal/Transcript.js"

const realWorker = fileURLToPath(new URL("../../../dist/mirror-worker.cjs", import.meta.url))
const crashingWorker = fileURLToPath(new URL("../../fixtures/mirror-worker/crashing.cjs", import.meta.url))

const until = async (what: string, check: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const collector = () => {
  const frames: Array<TerminalFrame> = []
  const socket: FrameSocket = {
    send: (bytes) => frames.push(Either.getOrThrow(decodeFrame(bytes))),
    close: () => {},
    bufferedAmount: () => 0
  }
  return { frames, socket }
}

const outputFrame = (offset: number, text: string): [TerminalFrame, Uint8Array] => {
  const frame: TerminalFrame = { _tag: "Output", offset, data: new TextEncoder().encode(text) }
  return [frame, Either.getOrThrow(encodeFrame(frame))]
}

describe("MirrorWorkerPool", () => {
  let dir: string
  const pools: Array<MirrorWorkerPool> = []
  const terminals: Array<RelayTerminal> = []

  beforeAll(() => {
    if (!NodeFs.existsSync(realWorker)) throw new Error(`${realWorker} is missing: run \`npm run build\` first`)
    dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "tether-mirror-pool-"))
    process.env["TETHER_TEST_REAL_WORKER"] = realWorker
  })
  afterEach(async () => {
    for (const terminal of terminals.splice(0)) terminal.dispose()
    for (const pool of pools.splice(0)) await pool.close()
  })
  afterAll(() => NodeFs.rmSync(dir, { recursive: true, force: true }))

  /** A terminal with output "hello" whose mirror lives in `pool`. */
  const terminalIn = async (pool: MirrorWorkerPool, name: string) => {
    const transcript = Transcript.open(dir, `ses_${name}`)
    const terminal = new RelayTerminal({ sessionId: `ses_${name}`, transcript, initialSize: { cols: 80, rows: 24 }, mirrorFactory: pool.factory })
    terminals.push(terminal)
    const runner = collector()
    terminal.attachRunner(runner.socket, { cols: 80, rows: 24 })
    terminal.runnerFrame(runner.socket, ...outputFrame(0, "hello from before\r\n"))
    await until("the transcript", () => transcript.end === 19)
    return terminal
  }

  const join = (terminal: RelayTerminal, id: string) => {
    const viewer = collector()
    terminal.viewerFrame(terminal.addViewer(viewer.socket, { id, name: id, canWrite: false }), { _tag: "Resume", offset: 0 })
    return viewer
  }
  const snapshotText = (frames: ReadonlyArray<TerminalFrame>) => {
    const snapshot = frames.find((f) => f._tag === "Snapshot")
    return snapshot?._tag === "Snapshot" ? snapshot.data : null
  }

  it("a worker that dies is replaced; a viewer waiting on it gets the screen rebuilt in the new one", async () => {
    process.env["TETHER_TEST_CRASH"] = "once"
    process.env["TETHER_TEST_CRASH_MARKER"] = NodePath.join(dir, "crashed-once")
    process.env["TETHER_TEST_CRASH_AFTER_MS"] = "300"
    const logs: Array<string> = []
    const pool = new MirrorWorkerPool(crashingWorker, (message) => logs.push(message))
    pools.push(pool)
    const terminal = await terminalIn(pool, "once")
    const viewer = join(terminal, "early") // asked of the worker that is about to die
    await until("the snapshot", () => snapshotText(viewer.frames) !== null)
    assert.include(snapshotText(viewer.frames), "hello from before")
    assert.strictEqual(pool.workersStarted, 2)
    assert.isTrue(logs.some((line) => line.includes("terminals rebuild their screens in a new one")), logs.join("\n"))
    const late = join(terminal, "late")
    await until("the late joiner's snapshot", () => snapshotText(late.frames) !== null)
    assert.include(snapshotText(late.frames), "hello from before")
  }, 30_000)

  it("a worker that keeps dying is given up on: snapshots come back empty instead of never", async () => {
    process.env["TETHER_TEST_CRASH"] = "always"
    process.env["TETHER_TEST_CRASH_AFTER_MS"] = "50"
    const logs: Array<string> = []
    const pool = new MirrorWorkerPool(crashingWorker, (message) => logs.push(message))
    pools.push(pool)
    const terminal = await terminalIn(pool, "always")
    await until("the pool to give up", () => logs.some((line) => line.includes("until the server restarts")), 20_000)
    assert.strictEqual(pool.workersStarted, 4, "three restarts within the minute, then none")
    const viewer = join(terminal, "viewer")
    await until("the (empty) snapshot", () => snapshotText(viewer.frames) !== null)
    assert.strictEqual(snapshotText(viewer.frames), "")
    assert.deepInclude(viewer.frames.map((f) => f._tag), "Snapshot")
  }, 30_000)

  it("a closed terminal's big screen is collected at once: the worker's heap shrinks back", async () => {
    const pool = new MirrorWorkerPool(realWorker, () => {})
    pools.push(pool)
    const transcript = Transcript.open(dir, "ses_big")
    const terminal = new RelayTerminal({
      sessionId: "ses_big",
      transcript,
      initialSize: { cols: 80, rows: 24 },
      scrollback: 10_000,
      mirrorFactory: pool.factory
    })
    const runner = collector()
    terminal.attachRunner(runner.socket, { cols: 80, rows: 24 })
    // 8 000 distinct lines: about 8 MB of screen lines in the worker once parsed.
    let offset = 0
    for (let chunk = 0; chunk < 8; chunk++) {
      let text = ""
      for (let i = 0; i < 1000; i++) text += `line ${chunk * 1000 + i} ${"x".repeat(60)}\r\n`
      terminal.runnerFrame(runner.socket, ...outputFrame(offset, text))
      offset += text.length
    }
    await until("the transcript", () => transcript.end === offset)
    const viewer = join(terminal, "viewer") // its snapshot makes the mirror parse everything
    await until("the snapshot", () => snapshotText(viewer.frames) !== null, 20_000)
    assert.include(snapshotText(viewer.frames), "line 7999")
    const busy = await pool.heapUsed()
    terminal.dispose()
    await new Promise((r) => setTimeout(r, 500))
    const after = await pool.heapUsed()
    assert.isNotNull(busy)
    assert.isNotNull(after)
    assert.isBelow(after!, busy! - 4 * 1024 * 1024, `heap ${busy} bytes with the screen, ${after} after it closed`)
  }, 30_000)
})

/**
 * The web UI's TerminalClient (web/src/terminal/client.ts) against a relay on
 * a real WebSocket (test/web/fake-relay.ts, the real codec), over 127.0.0.1:
 * RESUME offsets across reconnects (no byte lost or repeated), SNAPSHOT
 * resets, ACK pacing, read-only viewers, and control/resize rules.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, assert, describe, it } from "vitest"
import { WebSocket } from "ws"
import { type SocketLike, TerminalClient, type TerminalEvent } from "../../web/src/terminal/client.js"
import { echoProgram, FakeRelay, type Program, type ViewerIdentity } from "./fake-relay.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const eventually = async (what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

interface Harness {
  readonly relay: FakeRelay
  readonly url: (sessionId: string) => string
  readonly emitters: Map<string, (data: Uint8Array) => void>
  readonly server: Server
}

const running: Array<{ relay: FakeRelay; server: Server; clients: Array<TerminalClient> }> = []
afterEach(async () => {
  for (const { relay, server, clients } of running.splice(0)) {
    for (const client of clients) client.close()
    relay.close()
    await new Promise((resolve) => server.close(resolve))
  }
})

/** Viewers are named by the `x-viewer` header: "writer-…" may write, anything else is read-only. */
const start = async (): Promise<Harness & { client: (sessionId: string, viewer: string, options?: { idleAckMs?: number }) => TerminalClient }> => {
  const emitters = new Map<string, (data: Uint8Array) => void>()
  const relay = new FakeRelay({
    spawn: (sessionId, emit): Program => {
      emitters.set(sessionId, emit)
      return echoProgram(sessionId, emit)
    },
    authorize: (request) => {
      const name = request.headers["x-viewer"]
      if (typeof name !== "string") return Promise.resolve(undefined)
      return Promise.resolve({ id: name, name, canWrite: name.startsWith("writer") } satisfies ViewerIdentity)
    }
  })
  const server = createServer((_req, res) => res.writeHead(404).end())
  server.on("upgrade", (request, socket, head) => {
    if (!relay.handleUpgrade(request, socket, head)) socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  const url = (sessionId: string) => `ws://127.0.0.1:${port}/v1/sessions/${sessionId}/terminal`
  const entry = { relay, server, clients: [] as Array<TerminalClient> }
  running.push(entry)
  const client = (sessionId: string, viewer: string, options: { idleAckMs?: number } = {}) => {
    const c = new TerminalClient({
      url: url(sessionId),
      socket: (u, protocols) => new WebSocket(u, [...protocols], { headers: { "x-viewer": viewer } }) as unknown as SocketLike,
      idleAckMs: options.idleAckMs ?? 50
    })
    entry.clients.push(c)
    return c
  }
  return { relay, url, emitters, server, client }
}

/** Collects what a client delivers: the screen as written (resets start over) and every event. */
const record = (client: TerminalClient) => {
  const events: Array<TerminalEvent> = []
  let screen = ""
  client.subscribe((event) => {
    events.push(event)
    if (event._tag === "Output") screen += Buffer.from(event.data).toString("utf8")
    if (event._tag === "Reset") screen = event.data
  })
  return { events, screen: () => screen }
}

describe("TerminalClient", () => {
  it("resumes after a dropped connection exactly where it stopped", async () => {
    const h = await start()
    const writer = h.client("ses_1", "writer-ana")
    const seen = record(writer)
    writer.connect()
    await eventually("metadata", () => writer.metadata?.you.canWrite === true)
    assert.strictEqual(h.relay.resumes[0], 0)
    assert.isTrue(writer.input("hello\r"))
    await eventually("echo", () => seen.screen().includes("> hello"))

    const before = writer.offset
    assert.strictEqual(before, h.relay.terminals.get("ses_1")?.output.length)
    h.relay.dropConnections()
    await eventually("reconnecting", () => seen.events.some((e) => e._tag === "State" && e.state === "reconnecting"))
    // Output produced while the viewer was away arrives after the reconnect.
    h.emitters.get("ses_1")?.(Buffer.from("while away\r\n"))
    await eventually("live again", () => writer.state === "live" && h.relay.resumes.length === 2)
    assert.strictEqual(h.relay.resumes[1], before)
    assert.isTrue(writer.input("again\r"))
    await eventually("second echo", () => seen.screen().includes("> again"))
    // Every byte exactly once, in order.
    assert.strictEqual(seen.screen(), h.relay.terminals.get("ses_1")?.output.toString("utf8"))
    assert.isFalse(seen.events.some((e) => e._tag === "Reset"))
    await eventually("idle ack of everything", () => h.relay.acks.at(-1) === writer.offset)
  })

  it("a SNAPSHOT replaces the screen and moves the offset to the snapshot's", async () => {
    const h = await start()
    const first = h.client("ses_2", "writer-1")
    first.connect()
    await eventually("metadata", () => first.metadata !== null)
    first.input("one\r")
    await eventually("output", () => first.offset > 0)
    h.relay.forgetHistory = true
    const late = h.client("ses_2", "viewer-late")
    const seen = record(late)
    late.connect()
    await eventually("reset", () => seen.events.some((e) => e._tag === "Reset"))
    const reset = seen.events.find((e) => e._tag === "Reset")
    assert.deepStrictEqual(reset?._tag === "Reset" ? [reset.cols, reset.rows] : [], [80, 24])
    assert.include(seen.screen(), "> one")
    assert.strictEqual(late.offset, h.relay.terminals.get("ses_2")?.output.length)
  })

  it("ACKs at least every 256 KiB while output streams", async () => {
    const h = await start()
    const viewer = h.client("ses_3", "viewer-bulk", { idleAckMs: 60_000 })
    viewer.connect()
    await eventually("metadata", () => viewer.metadata !== null)
    const chunk = Buffer.alloc(64 * 1024, "x")
    for (let i = 0; i < 12; i++) h.emitters.get("ses_3")?.(chunk)
    await eventually("all output", () => viewer.offset === 12 * chunk.length)
    await eventually("acks", () => h.relay.acks.length >= 2)
    let previous = 0
    for (const ack of h.relay.acks) {
      assert.isAtMost(ack - previous, 256 * 1024 + chunk.length)
      previous = ack
    }
    assert.isAtLeast(h.relay.acks.at(-1) ?? 0, 12 * chunk.length - 256 * 1024)
  })

  it("read-only viewers send no input and are denied control; only the controller resizes, others follow", async () => {
    const h = await start()
    const reader = h.client("ses_4", "viewer-ro")
    const writer = h.client("ses_4", "writer-w")
    const readerSeen = record(reader)
    reader.connect()
    writer.connect()
    await eventually("metadata", () => reader.metadata !== null && writer.metadata !== null)
    assert.isFalse(reader.metadata?.you.canWrite)
    assert.isFalse(reader.input("rm -rf /\r"))
    assert.isTrue(reader.takeControl())
    await eventually("denied", () => readerSeen.events.some((e) => e._tag === "Control" && e.action === "denied"))
    assert.isFalse(reader.resize(100, 30))

    assert.isFalse(writer.resize(100, 30), "no resize before holding control")
    writer.takeControl()
    await eventually("controlling", () => writer.metadata?.you.controlling === true)
    assert.isTrue(writer.resize(100, 30))
    await eventually("reader follows", () => readerSeen.events.some((e) => e._tag === "Resize" && e.cols === 100 && e.rows === 30))
    await eventually("reader sees the controller", () => reader.metadata?.controller?.name === "writer-w")
    await sleep(100)
    assert.strictEqual(h.relay.terminals.get("ses_4")?.output.length, 0, "nothing reached the program from the reader")
  })

  it("stops reconnecting once closed", async () => {
    const h = await start()
    const viewer = h.client("ses_5", "viewer-x")
    viewer.connect()
    await eventually("live", () => viewer.state === "live")
    viewer.close()
    assert.strictEqual(viewer.state, "closed")
    await sleep(400)
    assert.strictEqual(h.relay.resumes.length, 1)
  })
})

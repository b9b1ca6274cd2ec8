/**
 * An exited terminal's link delivers everything it holds, however long a busy
 * server takes, as long as acknowledgements keep coming; it gives up only
 * after TETHER_TERMINAL_FLUSH_TIMEOUT without one. (It used to give up after a
 * fixed 2 s: a server relaying to 100 viewers lost the last 3 MB of a 20 MB
 * burst.) Real WebSockets on 127.0.0.1: a server that acknowledges 256 KiB
 * every 100 ms (2.5 MB/s), and one that never acknowledges.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { WebSocketServer } from "ws"
import * as Either from "effect/Either"
import { decodeFrame, encodeFrame, type TerminalFrame } from "../../src/domain/terminal-frame.js"
import { RunnerTerminals } from "../../src/runner/terminal/RunnerTerminals.js"
import { TunnelConfig } from "../../src/runner/TunnelConfig.js"

interface SlowServer {
  readonly url: string
  readonly received: () => number
  readonly exited: () => boolean
  readonly close: () => Promise<void>
}

/** A runner-link endpoint that stores output at `bytesPerTick` every 100 ms (0: never acknowledges). */
const slowServer = (bytesPerTick: number) =>
  new Promise<SlowServer>((resolve) => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
    let received = 0
    let acked = 0
    let exited = false
    const send = (ws: import("ws").WebSocket, frame: TerminalFrame) => ws.send(Either.getOrThrow(encodeFrame(frame)))
    wss.on("connection", (ws) => {
      const ticker = setInterval(() => {
        if (bytesPerTick === 0 || acked >= received) return
        acked = Math.min(received, acked + bytesPerTick)
        send(ws, { _tag: "Ack", offset: acked })
        if (exited && acked === received) ws.close(1000, "exit recorded")
      }, 100)
      ws.on("close", () => clearInterval(ticker))
      ws.on("message", (data: Buffer) => {
        const frame = Either.getOrThrow(decodeFrame(data))
        if (frame._tag === "Metadata") send(ws, { _tag: "Resume", offset: received })
        if (frame._tag === "Output" && frame.offset + frame.data.length > received) received = frame.offset + frame.data.length
        if (frame._tag === "Exit") exited = true
      })
    })
    wss.on("listening", () => {
      const address = wss.address() as import("node:net").AddressInfo
      resolve({
        url: `http://127.0.0.1:${address.port}`,
        received: () => received,
        exited: () => exited,
        close: () => new Promise((done) => wss.close(() => done()))
      })
    })
  })

const runLink = (url: string, bytes: number, flushTimeout: string) =>
  Effect.gen(function*() {
    const terminals = yield* RunnerTerminals
    const started = Date.now()
    yield* Effect.scoped(
      Effect.gen(function*() {
        const channel = yield* terminals.open("ses_drain", { cols: 80, rows: 24 })
        const chunk = new Uint8Array(64 * 1024).fill(120)
        for (let sent = 0; sent < bytes; sent += chunk.length) channel.write(chunk)
        channel.exit(0, null)
      })
    )
    return Date.now() - started
  }).pipe(
    Effect.provide(RunnerTerminals.Default),
    Effect.provide(Layer.succeed(TunnelConfig, { serverUrl: url, token: Redacted.make("tat_test"), hostName: "test" })),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["TETHER_TERMINAL_FLUSH_TIMEOUT", flushTimeout]])))
  )

describe("RunnerTerminals: draining an exited terminal", () => {
  it.live("waits as long as a slow server keeps acknowledging: every byte and the exit arrive", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => slowServer(256 * 1024))
      const bytes = 8 * 1024 * 1024
      // 8 MiB at 2.5 MB/s: over 3 s, longer than the 1 s flush timeout, but acknowledgements keep coming.
      const elapsed = yield* runLink(server.url, bytes, "1 second")
      expect(server.received()).toBe(bytes)
      expect(server.exited()).toBe(true)
      expect(elapsed).toBeGreaterThan(2000)
      yield* Effect.promise(() => server.close())
    }), 30_000)

  it.live("gives up after the flush timeout when nothing is acknowledged", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => slowServer(0))
      const elapsed = yield* runLink(server.url, 1024 * 1024, "500 millis")
      expect(elapsed).toBeGreaterThanOrEqual(500)
      expect(elapsed).toBeLessThan(5000)
      expect(server.exited()).toBe(true)
      yield* Effect.promise(() => server.close())
    }), 30_000)
})

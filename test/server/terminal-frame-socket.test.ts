/**
 * The relay's WebSocket wrapper: frames sent to a viewer within one turn of
 * the event loop leave in one corked batch (one cork, one uncork at the end
 * of the turn), in order; without a TCP socket to cork, frames go straight out.
 */
import { describe, expect, it } from "@effect/vitest"
import { frameSocketOf } from "../../src/server/terminal.js"

const fakes = () => {
  const log: Array<string> = []
  const ws = {
    send: (data: Uint8Array) => log.push(`send ${data[0]}`),
    close: (code?: number) => log.push(`close ${code}`),
    bufferedAmount: 7
  }
  const tcp = { cork: () => log.push("cork"), uncork: () => log.push("uncork") }
  return { log, ws, tcp }
}
const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

describe("frameSocketOf", () => {
  it("corks on the first send of a turn and uncorks once at its end, keeping the order", async () => {
    const { log, ws, tcp } = fakes()
    const socket = frameSocketOf(ws, tcp)
    socket.send(Uint8Array.of(1))
    socket.send(Uint8Array.of(2))
    socket.send(Uint8Array.of(3))
    expect(log).toEqual(["cork", "send 1", "send 2", "send 3"])
    await nextTurn()
    expect(log).toEqual(["cork", "send 1", "send 2", "send 3", "uncork"])
    socket.send(Uint8Array.of(4))
    await nextTurn()
    expect(log.slice(5)).toEqual(["cork", "send 4", "uncork"])
    expect(socket.bufferedAmount()).toBe(7)
    socket.close(1000, "bye")
    expect(log.at(-1)).toBe("close 1000")
  })

  it("without a TCP socket (the runner's link), frames go out as they are sent", async () => {
    const { log, ws } = fakes()
    const socket = frameSocketOf(ws, null)
    socket.send(Uint8Array.of(5))
    socket.send(Uint8Array.of(6))
    await nextTurn()
    expect(log).toEqual(["send 5", "send 6"])
  })
})

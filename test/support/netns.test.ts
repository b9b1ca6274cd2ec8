import { existsSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "vitest"
import * as Netns from "./netns.js"

describe("netns test helper", () => {
  it("gives a peer whose connections arrive from a non-loopback address, then cleans up", async (ctx) => {
    await Netns.requireNetns(ctx)
    const ns = await Netns.create()
    const seen: Array<string | undefined> = []
    const server = createServer((req, res) => {
      seen.push(req.socket.remoteAddress)
      res.end(req.socket.remoteAddress ?? "")
    })
    try {
      assert.match(ns.hostAddress, /^10\.231\.\d+\.\d+$/)
      assert.match(ns.peerAddress, /^10\.231\.\d+\.\d+$/)
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject)
        server.listen(0, ns.hostAddress, resolve)
      })
      const { port } = server.address() as AddressInfo
      const url = `http://${ns.hostAddress}:${port}/`

      const result = await ns.exec(process.execPath, [
        "-e",
        `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t))`
      ], { timeoutMs: 15_000 })

      assert.strictEqual(result.code, 0, `fetch inside the namespace failed: ${result.stderr}`)
      assert.strictEqual(result.stdout, ns.peerAddress)
      assert.deepStrictEqual(seen, [ns.peerAddress])

      // The namespace has no route to the host's loopback: 127.0.0.1 there is its own lo.
      const loopback = await ns.exec(process.execPath, [
        "-e",
        `fetch("http://127.0.0.1:${port}/").then(() => process.exit(0), () => process.exit(3))`
      ], { timeoutMs: 15_000 })
      assert.strictEqual(loopback.code, 3)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await ns.dispose()
    }

    await ns.dispose() // idempotent
    assert.isFalse(existsSync(`/run/netns/${ns.name}`), "namespace still exists")
    const links = await ns.exec("true", []).then(() => "ran", (error: Error) => error.message)
    assert.match(links, /disposed/)
  })
})

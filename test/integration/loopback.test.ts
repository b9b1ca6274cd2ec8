/**
 * `POST /api/server/shutdown` answers loopback peers only, checked against a
 * genuinely different address: the server listens on 0.0.0.0 and a client in
 * a network namespace reaches it over a veth pair as 10.231.x.2.
 *
 * From the namespace, an admin token can use ordinary routes (so networking
 * and auth work) but shutdown is refused with 403 LoopbackOnly and the server
 * keeps running; from loopback, a request carrying X-Forwarded-For is refused
 * too; a plain loopback request gets 202 and the server exits by itself,
 * gracefully (exit 0).
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as Netns from "../support/netns.js"
import { freeTempHome, type RunningServer, startServer, type TempHome } from "../support/processes.js"
import { cliJson, cliOk, connectArgs, isAlive, within } from "./helpers.js"

const PASSWORD = "loopback-test-password-1234"

/** Node script: `fetch(URL, {method: METHOD, headers: bearer TOKEN})`, prints `{status, body}` as JSON. */
const fetchScript = `
const headers = { authorization: "Bearer " + process.env.TOKEN }
fetch(process.env.URL, { method: process.env.METHOD, headers, signal: AbortSignal.timeout(10000) })
  .then(async (r) => {
    const text = await r.text()
    let body = text
    try { body = JSON.parse(text) } catch {}
    process.stdout.write(JSON.stringify({ status: r.status, body }))
  })
  .catch((e) => { process.stderr.write(String(e && e.cause || e)); process.exit(3) })
`

interface Answer {
  readonly status: number
  readonly body: unknown
}

const tagOf = (body: unknown): unknown =>
  typeof body === "object" && body !== null && "_tag" in body ? (body as { _tag: unknown })._tag : undefined

describe("loopback-only shutdown, from a real second address", () => {
  let ns: Netns.NetworkNamespace | undefined
  let home: TempHome | undefined
  let server: RunningServer | undefined

  beforeAll(async () => {
    home = freeTempHome()
  })

  afterAll(async () => {
    try {
      await server?.stop()
    } finally {
      await ns?.dispose()
      await home?.cleanup()
    }
  })

  it("refuses shutdown from the namespace and from proxied loopback, obeys plain loopback", async (ctx) => {
    await Netns.requireNetns(ctx)
    ns = await Netns.create()
    const dir = home!.dir
    server = await startServer({ home: dir, host: "0.0.0.0", env: { TETHER_PASSWORD: PASSWORD } })
    const running = server

    // an admin token, obtained over loopback
    await cliOk(connectArgs(running.port), { home: dir, input: `${PASSWORD}\n` })
    const { token } = await cliJson<{ token: string; scope: string }>(
      ["tokens", "create", "--name", "netns-admin", "--scope", "admin", "--json"],
      { home: dir }
    )
    assert.match(token, /^tat_/)

    const fromNamespace = async (method: string, path: string): Promise<Answer> => {
      const url = `http://${ns!.hostAddress}:${running.port}${path}`
      const result = await ns!.exec(process.execPath, ["-e", fetchScript], {
        env: { URL: url, METHOD: method, TOKEN: token },
        timeoutMs: 15_000
      })
      assert.strictEqual(result.code, 0, `${method} ${url} from the namespace failed: ${result.stderr}`)
      return JSON.parse(result.stdout) as Answer
    }
    const fromLoopback = async (method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> => {
      const response = await fetch(`http://127.0.0.1:${running.port}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...headers },
        signal: AbortSignal.timeout(10_000)
      })
      const text = await response.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        // not JSON
      }
      return { status: response.status, body }
    }

    // the namespace reaches the server and the admin token works there (whoami, and an admin-only route)
    const whoami = await fromNamespace("GET", "/api/cli/whoami")
    assert.strictEqual(whoami.status, 200, JSON.stringify(whoami))
    assert.include(JSON.stringify(whoami.body), "netns-admin")
    const tokens = await fromNamespace("GET", "/api/cli/tokens")
    assert.strictEqual(tokens.status, 200, JSON.stringify(tokens))

    // ... but shutdown from there is refused by the loopback rule, naming the peer
    const remoteShutdown = await fromNamespace("POST", "/api/server/shutdown")
    assert.strictEqual(remoteShutdown.status, 403, JSON.stringify(remoteShutdown))
    assert.strictEqual(tagOf(remoteShutdown.body), "LoopbackOnly", JSON.stringify(remoteShutdown))
    assert.include(JSON.stringify(remoteShutdown.body), ns.peerAddress)

    // loopback, but proxied: refused too
    const proxied = await fromLoopback("POST", "/api/server/shutdown", { "x-forwarded-for": "203.0.113.7" })
    assert.strictEqual(proxied.status, 403, JSON.stringify(proxied))
    assert.strictEqual(tagOf(proxied.body), "LoopbackOnly", JSON.stringify(proxied))

    // the server is still up and serving
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.isTrue(isAlive(running.pid), `server exited:\n${running.output()}`)
    assert.strictEqual((await fromLoopback("GET", "/api/cli/whoami")).status, 200)
    assert.notInclude(running.output(), "stopping")

    // plain loopback: accepted, and the process exits by itself, gracefully
    const shutdown = await fromLoopback("POST", "/api/server/shutdown")
    assert.strictEqual(shutdown.status, 202, JSON.stringify(shutdown))
    assert.deepStrictEqual(shutdown.body, { stopping: true })
    const code = await within("server exit after shutdown", 8_000, running.exited)
    assert.strictEqual(code, 0, running.output())
    assert.include(running.output(), "Tether server stopping")
    assert.isFalse(existsSync(join(dir, "server.json")), "server.json left behind after a graceful stop")
  }, 45_000)
})

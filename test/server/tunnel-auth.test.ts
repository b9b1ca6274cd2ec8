/**
 * The runner tunnel endpoint only serves write-scope (or admin) access tokens:
 * the real runner client against the real server, over a real WebSocket.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as WS from "ws"
import { TUNNEL_PATH } from "../../src/domain/rpc/tunnel.js"
import { runHost } from "../../src/runner/host.js"
import { HostRepo } from "../../src/services/hosts/HostRepo.js"
import { generateToken } from "../../src/services/tokens/secret.js"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { apiServerLayer } from "../support/api-server.js"
import { sqliteTestLayer } from "../support/databases.js"

const serverUrl = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : "")

const token = (scope: "read" | "write" | "admin") =>
  Effect.flatMap(TokenStore, (t) => t.issue({ kind: "access", name: `runner-${scope}`, scope, createdBy: "test" })).pipe(
    Effect.map((issued) => issued.token)
  )

const runFor = (url: string, secret: Redacted.Redacted<string>, hostName: string) =>
  runHost({ serverUrl: url, token: secret, hostName }).pipe(Effect.timeout("8 seconds"), Effect.exit)

/** The HTTP status the server answers a WebSocket upgrade with (101 when it accepts). */
const upgradeStatus = (url: string, headers: Record<string, string>) =>
  Effect.async<number>((resume) => {
    const socket = new WS.WebSocket(`${url.replace("http", "ws")}${TUNNEL_PATH}`, { headers })
    socket.once("upgrade", () => {
      socket.close()
      resume(Effect.succeed(101))
    })
    socket.once("unexpected-response", (_request, response) => {
      resume(Effect.succeed(response.statusCode ?? 0))
      socket.terminate()
    })
    socket.once("error", () => resume(Effect.succeed(0)))
  })

layer(apiServerLayer(sqliteTestLayer()), { excludeTestServices: true })("runner tunnel auth", (it) => {
  it.effect("the WebSocket upgrade itself is refused without a write-scope token", () =>
    Effect.gen(function*() {
      const url = yield* serverUrl
      assert.strictEqual(yield* upgradeStatus(url, {}), 401)
      assert.strictEqual(yield* upgradeStatus(url, { authorization: `Bearer ${generateToken("access")}` }), 401)
      const read = Redacted.value(yield* token("read"))
      assert.strictEqual(yield* upgradeStatus(url, { authorization: `Bearer ${read}` }), 403)
      const write = Redacted.value(yield* token("write"))
      assert.strictEqual(yield* upgradeStatus(url, { authorization: `Bearer ${write}` }), 101)
    }))

  it.effect("a read-scope token is refused and the runner stops for good", () =>
    Effect.gen(function*() {
      const exit = yield* runFor(yield* serverUrl, yield* token("read"), "reader")
      assert.isTrue(Exit.isFailure(exit))
      assert.include(JSON.stringify(exit), "TunnelRejected")
      assert.include(JSON.stringify(exit), "write")
    }))

  it.effect("an unknown token is refused", () =>
    Effect.gen(function*() {
      const exit = yield* runFor(yield* serverUrl, Redacted.make(generateToken("access")), "stranger")
      assert.isTrue(Exit.isFailure(exit))
      assert.include(JSON.stringify(exit), "TunnelRejected")
    }))

  it.effect("a write-scope token registers the host and keeps running", () =>
    Effect.gen(function*() {
      const url = yield* serverUrl
      const fiber = yield* Effect.fork(runHost({ serverUrl: url, token: yield* token("write"), hostName: "writer" }))
      const hosts = yield* HostRepo
      let registered = false
      for (let i = 0; i < 100 && !registered; i++) {
        registered = (yield* hosts.list()).some((h) => h.name === "writer" && h.connectedAt !== null)
        if (!registered) yield* Effect.sleep("50 millis")
      }
      assert.isTrue(registered)
      assert.isNull(fiber.unsafePoll())
    }))
})

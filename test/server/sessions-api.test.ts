/**
 * The sessions API in-process over a real socket and SQLite, with a real
 * runner (shell harness) connected through the tunnel: answers, errors and
 * host binding. Process-level scenarios live in test/integration.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { runHost } from "../../src/runner/host.js"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { apiServerLayer } from "../support/api-server.js"
import { sqliteTestLayer } from "../support/databases.js"

type Json = Record<string, unknown>

const adminToken = Effect.flatMap(TokenStore, (t) => t.issue({ kind: "access", name: "api-test", scope: "admin", createdBy: "test" })).pipe(
  Effect.map((issued) => Redacted.value(issued.token)),
  Effect.cached,
  Effect.runSync
)

const call = (method: "GET" | "POST" | "PATCH" | "DELETE", path: string, body?: unknown) =>
  Effect.gen(function*() {
    const token = yield* adminToken
    const client = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(path).pipe(HttpClientRequest.bearerToken(token))
    if (body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, body)
    const response = yield* client.execute(request)
    const text = yield* response.text
    return { status: response.status, body: (text === "" ? {} : JSON.parse(text)) as Json }
  })

const waitFor = <A>(check: Effect.Effect<A | undefined, unknown, HttpClient.HttpClient | TokenStore>, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const value = yield* check
      if (value !== undefined) return value
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

const sessionStatus = (id: string) => Effect.map(call("GET", `/v1/sessions/${id}`), (r) => String(r.body["status"]))

layer(apiServerLayer(sqliteTestLayer()), { excludeTestServices: true })("sessions API", (it) => {
  it.effect("with no host online, creating without a host is a 409 that lists the choices", () =>
    Effect.gen(function*() {
      const answer = yield* call("POST", "/v1/sessions", { harness: "shell", cwd: "/", args: ["true"] })
      assert.strictEqual(answer.status, 409)
      assert.strictEqual(answer.body["_tag"], "HostChoiceRequired")
      assert.isArray(answer.body["hosts"])
      const unknown = yield* call("POST", "/v1/sessions", { harness: "shell", cwd: "/", args: ["true"], hostId: "nope" })
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(unknown.body["_tag"], "HostNotFound")
    }))

  it.effect("bad bodies are 400s; unknown sessions are 404s", () =>
    Effect.gen(function*() {
      for (const body of [{}, { harness: "Bad Name", cwd: "/" }, { harness: "shell", cwd: "" }, { harness: "shell", cwd: "/", args: "x" }]) {
        assert.strictEqual((yield* call("POST", "/v1/sessions", body)).status, 400, JSON.stringify(body))
      }
      assert.strictEqual((yield* call("GET", "/v1/sessions/ses_missing")).status, 404)
      assert.strictEqual((yield* call("POST", "/v1/sessions/ses_missing/events", { type: "interrupt" })).status, 404)
      assert.strictEqual((yield* call("POST", "/v1/sessions/ses_missing/events", { type: "dance" })).status, 400)
      assert.strictEqual((yield* call("GET", "/v1/sessions?cursor=garbage")).status, 400)
      assert.strictEqual((yield* call("GET", "/v1/sessions?status=sleeping")).status, 400)
    }))

  it.scoped("a session runs on the only online host; finished sessions refuse input; patch, fork and delete work", () =>
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const url = server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : ""
      const runnerToken = yield* Effect.flatMap(TokenStore, (t) =>
        t.issue({ kind: "access", name: "runner", scope: "write", createdBy: "test" }))
      yield* Effect.forkScoped(runHost({ serverUrl: url, token: runnerToken.token, hostName: "api-host" }))
      yield* waitFor(
        Effect.map(call("GET", "/v1/hosts"), (r) =>
          (r.body["hosts"] as Array<Json>).some((h) => h["name"] === "api-host" && h["online"] === true) ? true : undefined),
        "the host to come online"
      )

      const created = yield* call("POST", "/v1/sessions", {
        harness: "shell",
        cwd: "/",
        args: ["sh", "-c", "read line; echo \"got $line\"; exit 4"],
        title: "echo test"
      })
      assert.strictEqual(created.status, 201)
      const id = String(created.body["id"])
      assert.strictEqual(created.body["hostName"], "api-host")

      const notPending = yield* call("POST", `/v1/sessions/${id}/events`, { type: "approval", requestId: "r1", decision: "allow" })
      assert.strictEqual(notPending.status, 409)
      assert.strictEqual(notPending.body["_tag"], "ApprovalNotPending")

      const sent = yield* call("POST", `/v1/sessions/${id}/events`, { type: "message", text: "ping" })
      assert.strictEqual(sent.status, 202)
      assert.strictEqual(sent.body["delivery"], "sent")
      yield* waitFor(Effect.map(sessionStatus(id), (s) => (s === "exited" ? s : undefined)), "the session to exit")

      const finished = yield* call("GET", `/v1/sessions/${id}`)
      assert.strictEqual(finished.body["exitCode"], 4)
      assert.isAtLeast(Number(finished.body["lastSeq"]), 4)
      const refused = yield* call("POST", `/v1/sessions/${id}/events`, { type: "message", text: "too late" })
      assert.strictEqual(refused.status, 409)
      assert.strictEqual(refused.body["_tag"], "SessionFinished")

      const patched = yield* call("PATCH", `/v1/sessions/${id}`, { title: "renamed", archived: true })
      assert.strictEqual(patched.body["title"], "renamed")
      assert.strictEqual(patched.body["archived"], true)
      const listed = yield* call("GET", "/v1/sessions?archived=true")
      assert.isTrue((listed.body["sessions"] as Array<Json>).some((s) => s["id"] === id))
      const active = yield* call("GET", "/v1/sessions?archived=false")
      assert.isFalse((active.body["sessions"] as Array<Json>).some((s) => s["id"] === id))

      const tooFar = yield* call("POST", `/v1/sessions/${id}/fork`, { upToSeq: 10_000 })
      assert.strictEqual(tooFar.status, 400)
      const forked = yield* call("POST", `/v1/sessions/${id}/fork`, { upToSeq: 2 })
      assert.strictEqual(forked.status, 201)
      assert.deepStrictEqual(forked.body["forkedFrom"], { sessionId: id, upToSeq: 2 })

      assert.strictEqual((yield* call("DELETE", `/v1/sessions/${id}`)).status, 200)
      assert.strictEqual((yield* call("GET", `/v1/sessions/${id}`)).status, 404)
      assert.strictEqual((yield* call("GET", `/v1/sessions/${forked.body["id"]}`)).status, 200)
    }))
})

/**
 * The model gateway in-process over a real socket and SQLite, against the
 * fake model server: providers (keys never returned), inference keys and
 * their globs, the catalog, streamed forwarding in all three formats (chunk
 * by chunk), upstream errors, client disconnects, format mismatches and
 * usage. Process-level (CLI) scenarios live in test/integration/gateway*.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, layer } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { request as httpRequest } from "node:http"
import { GATEWAY_ROUTES } from "../../src/domain/gateway-routes.js"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { apiServerLayer } from "../support/api-server.js"
import { sqliteTestLayer } from "../support/databases.js"
import { type FakeModelServer, startFakeModelServer } from "../support/fake-model-server/index.js"

type Json = Record<string, unknown>

/** A body as JSON; SSE and empty bodies give an empty object (tests look at `text` for those). */
const parseJson = (raw: string): Json => {
  try {
    const parsed: unknown = JSON.parse(raw)
    return typeof parsed === "object" && parsed !== null ? (parsed as Json) : {}
  } catch {
    return {}
  }
}

/** The value at `path` inside parsed JSON; undefined where the path does not exist. */
const field = (value: unknown, ...path: ReadonlyArray<string | number>): unknown =>
  path.reduce<unknown>((at, key) => (typeof at === "object" && at !== null ? (at as Record<string | number, unknown>)[key] : undefined), value)

/** The array at `path`, or a failed assertion. */
const items = (value: unknown, ...path: ReadonlyArray<string | number>): ReadonlyArray<unknown> => {
  const found = field(value, ...path)
  assert.isArray(found, `no array at ${path.join(".")}`)
  return found as ReadonlyArray<unknown>
}

/** The text at `path` ("" when missing), for substring checks. */
const text = (value: unknown, ...path: ReadonlyArray<string | number>): string => String(field(value, ...path) ?? "")

const UPSTREAM_KEY = "sk-upstream-Secret-0123456789"
const MASTER_KEY = "11".repeat(32)

const fake: FakeModelServer = await startFakeModelServer({
  models: [{ id: "gpt-fake", context_window: 128_000 }, { id: "gpt-mini" }]
})

const TestServer = apiServerLayer(sqliteTestLayer()).pipe(
  Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["TETHER_MASTER_KEY", MASTER_KEY]]))))
)

const adminToken = Effect.flatMap(TokenStore, (t) => t.issue({ kind: "access", name: "gw-admin", scope: "admin", createdBy: "test" })).pipe(
  Effect.map((issued) => Redacted.value(issued.token)),
  Effect.cached,
  Effect.runSync
)

const call = (method: "GET" | "POST" | "DELETE", path: string, options: { body?: unknown; credential?: string | null; header?: "bearer" | "x-api-key" } = {}) =>
  Effect.gen(function*() {
    const credential = options.credential === undefined ? yield* adminToken : options.credential
    const client = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(path)
    if (credential !== null) {
      request = options.header === "x-api-key"
        ? HttpClientRequest.setHeader(request, "x-api-key", credential)
        : HttpClientRequest.bearerToken(request, credential)
    }
    if (options.body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, options.body)
    const response = yield* client.execute(request)
    const raw = yield* response.text
    return { status: response.status, text: raw, body: parseJson(raw) }
  })

const serverUrl = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : "")

interface StreamedAnswer {
  readonly status: number
  readonly contentType: string
  readonly text: string
  /** ms from sending to each body chunk received. */
  readonly chunkTimes: ReadonlyArray<number>
}

/** POSTs with node:http and records when each body chunk arrives. */
const postStreaming = (url: string, path: string, key: string, body: unknown, header: "bearer" | "x-api-key" = "bearer") =>
  Effect.async<StreamedAnswer, Error>((resume) => {
    const started = performance.now()
    const auth: Record<string, string> = header === "bearer" ? { authorization: `Bearer ${key}` } : { "x-api-key": key }
    const request = httpRequest(`${url}${path}`, { method: "POST", agent: false, headers: { "content-type": "application/json", ...auth } }, (response) => {
      const chunks: Array<Buffer> = []
      const chunkTimes: Array<number> = []
      response.on("data", (chunk: Buffer) => {
        chunkTimes.push(performance.now() - started)
        chunks.push(chunk)
      })
      response.once("end", () =>
        resume(Effect.succeed({
          status: response.statusCode ?? 0,
          contentType: String(response.headers["content-type"] ?? ""),
          text: Buffer.concat(chunks).toString("utf8"),
          chunkTimes
        })))
      response.once("error", (error) => resume(Effect.fail(error)))
    })
    request.once("error", (error) => resume(Effect.fail(error)))
    request.end(JSON.stringify(body))
  })

/** Starts a streaming POST, waits for its first body bytes, then destroys the connection. */
const postAndDisconnect = (url: string, path: string, key: string, body: unknown) =>
  Effect.async<void, Error>((resume) => {
    const request = httpRequest(`${url}${path}`, { method: "POST", agent: false, headers: { "content-type": "application/json", authorization: `Bearer ${key}` } }, (response) => {
      response.once("data", () => {
        request.destroy()
        resume(Effect.void)
      })
    })
    request.once("error", () => {})
    request.end(JSON.stringify(body))
  })

const waitFor = <A, E, R>(what: string, check: Effect.Effect<A | undefined, E, R>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const value = yield* check
      if (value !== undefined) return value
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

const createKey = (name: string, models?: ReadonlyArray<string>) =>
  Effect.map(call("POST", "/v1/keys", { body: { name, ...(models ? { models } : {}) } }), (r) => {
    assert.strictEqual(r.status, 201, r.text)
    return r.body as { key: Json; secret: string }
  })

const streamRequest: Record<string, { path: string; model: string; body: Json }> = {
  "openai-chat": {
    path: "/v1/chat/completions",
    model: "oai/gpt-fake",
    body: { stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] }
  },
  "openai-responses": { path: "/v1/responses", model: "resp/gpt-fake", body: { stream: true, input: "hi" } },
  anthropic: { path: "/v1/messages", model: "ant/claude-fake", body: { stream: true, max_tokens: 100, messages: [{ role: "user", content: "hi" }] } }
}

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("model gateway API", (it) => {
  it.effect("every declared gateway route is served and refuses a caller without a credential", () =>
    Effect.gen(function*() {
      for (const route of GATEWAY_ROUTES) {
        const answer = yield* call(route.method, route.path, { credential: null, ...(route.method === "POST" ? { body: {} } : {}) })
        assert.strictEqual(answer.status, 401, `${route.method} ${route.path}: ${answer.text}`)
        const body = answer.body
        assert.isString(field(body, "error", "message"))
        if (route.format === "anthropic") assert.strictEqual(body["type"], "error")
      }
    }))

  it.effect("providers: added with a key that no API ever returns; the key is sealed at rest", () =>
    Effect.gen(function*() {
      const added = yield* call("POST", "/v1/providers", {
        body: { name: "oai", baseUrl: fake.url, format: "openai-chat", apiKey: UPSTREAM_KEY, discover: true }
      })
      assert.strictEqual(added.status, 201, added.text)
      assert.strictEqual(field(added.body, "baseUrl"), `${fake.url}/v1`)
      assert.strictEqual(field(added.body, "hasApiKey"), true)
      assert.deepStrictEqual(field(added.body, "models"), [
        { id: "gpt-fake", contextWindow: 128_000, maxOutputTokens: null },
        { id: "gpt-mini", contextWindow: null, maxOutputTokens: null }
      ])
      const resp = yield* call("POST", "/v1/providers", {
        body: { name: "resp", baseUrl: `${fake.url}/v1/`, format: "openai-responses", apiKey: UPSTREAM_KEY, models: ["gpt-fake"] }
      })
      assert.strictEqual(resp.status, 201, resp.text)
      const ant = yield* call("POST", "/v1/providers", {
        body: {
          name: "ant",
          baseUrl: fake.url,
          format: "anthropic",
          apiKey: UPSTREAM_KEY,
          models: [{ id: "claude-fake", contextWindow: 200_000, maxOutputTokens: 8192 }]
        }
      })
      assert.strictEqual(ant.status, 201, ant.text)

      // Discovery asked the provider's models endpoint with the provider's key.
      const discovery = fake.requests.find((r) => r.path === "/v1/models")
      assert.strictEqual(discovery?.headers["authorization"], `Bearer ${UPSTREAM_KEY}`)

      const texts = [
        added.text,
        resp.text,
        ant.text,
        (yield* call("GET", "/v1/providers")).text,
        (yield* call("GET", "/v1/providers/oai")).text,
        (yield* call("GET", "/api/openapi.json", { credential: null })).text
      ]
      for (const text of texts) assert.notInclude(text, UPSTREAM_KEY)
      assert.notInclude(texts[0] ?? "", "apiKey")

      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ api_key: string }>`SELECT api_key FROM providers`
      assert.strictEqual(rows.length, 3)
      for (const row of rows) {
        assert.match(row.api_key, /^v1\./)
        assert.notInclude(row.api_key, UPSTREAM_KEY)
        assert.notInclude(Buffer.from(row.api_key.slice(3), "base64").toString("latin1"), UPSTREAM_KEY)
      }

      const duplicate = yield* call("POST", "/v1/providers", { body: { name: "oai", baseUrl: fake.url } })
      assert.strictEqual(duplicate.status, 409)
      const badUrl = yield* call("POST", "/v1/providers", { body: { name: "bad", baseUrl: "ftp://example" } })
      assert.strictEqual(badUrl.status, 400)
      const badName = yield* call("POST", "/v1/providers", { body: { name: "Bad/Name", baseUrl: fake.url } })
      assert.strictEqual(badName.status, 400)
      const unreachable = yield* call("POST", "/v1/providers", { body: { name: "gone", baseUrl: "http://127.0.0.1:9", discover: true } })
      assert.strictEqual(unreachable.status, 502)
      assert.strictEqual(field(unreachable.body, "_tag"), "ProviderUnreachable")
      assert.strictEqual((yield* call("GET", "/v1/providers/nope")).status, 404)
    }))

  it.effect("inference keys: created once with their secret, listed masked, refused on management routes", () =>
    Effect.gen(function*() {
      const created = yield* createKey("everything")
      assert.match(created.secret, /^tsk_[0-9A-Za-z]{38}$/)
      assert.deepStrictEqual(Object.keys(created.key).sort(), [
        "createdAt", "expiresAt", "id", "lastUsedAt", "models", "name", "prefix", "revokedAt"
      ])
      assert.strictEqual(created.key["models"], null)
      assert.strictEqual(created.key["prefix"], created.secret.slice(0, 10))
      const restricted = yield* createKey("anthropic-only", ["ant/*"])
      assert.deepStrictEqual(restricted.key["models"], ["ant/*"])
      const audited = yield* call("GET", "/api/audit?action=key.created")
      const details = (audited.body as { entries: Array<{ detail: string }> }).entries.map((e) => e.detail)
      assert.isTrue(details.some((d) => d.includes(`${created.secret.slice(0, 10)}… (everything)`)), "key creation is audited")
      assert.isFalse(details.some((d) => d.includes(created.secret)), "the audit log never holds a secret")
      const expiring = yield* call("POST", "/v1/keys", { body: { name: "soon", expiresInDays: 7 } })
      assert.strictEqual(expiring.status, 201)
      assert.isString(field(expiring.body, "key", "expiresAt"))

      const listed = yield* call("GET", "/v1/keys")
      assert.strictEqual(listed.status, 200)
      assert.notInclude(listed.text, created.secret)
      assert.isAtLeast(items(listed.body, "keys").length, 3)

      // A tsk_ key is not a management credential; a tat_ token is not an inference key.
      assert.strictEqual((yield* call("GET", "/v1/keys", { credential: created.secret })).status, 401)
      assert.strictEqual((yield* call("GET", "/api/cli/whoami", { credential: created.secret })).status, 401)
      const withToken = yield* call("POST", "/v1/chat/completions", { body: { model: "oai/gpt-fake" } })
      assert.strictEqual(withToken.status, 401)
      assert.include(field(withToken.body, "error", "message"), "inference key")

      assert.strictEqual((yield* call("POST", "/v1/keys", { body: { name: "" } })).status, 400)
      assert.strictEqual((yield* call("POST", "/v1/keys", { body: { name: "x", models: ["has space"] } })).status, 400)

      const revoked = yield* call("DELETE", `/v1/keys/${field(expiring.body, "key", "prefix")}`)
      assert.strictEqual(revoked.status, 200, revoked.text)
      assert.isString(field(revoked.body, "key", "revokedAt"))
      const refused = yield* call("GET", "/v1/models", { credential: text(expiring.body, "secret") })
      assert.strictEqual(refused.status, 401)
      assert.include(field(refused.body, "error", "message"), "revoked")
      assert.strictEqual((yield* call("DELETE", "/v1/keys/tsk_nothing")).status, 404)
    }))

  it.effect("GET /v1/models: the catalog in the OpenAI list shape, narrowed by a key's globs", () =>
    Effect.gen(function*() {
      const all = yield* createKey("models-all")
      const restricted = yield* createKey("models-ant", ["ant/*"])
      const byKey = yield* call("GET", "/v1/models", { credential: all.secret })
      assert.strictEqual(byKey.status, 200, byKey.text)
      assert.strictEqual(field(byKey.body, "object"), "list")
      const ids = items(byKey.body, "data").map((m) => text(m, "id")).sort()
      assert.deepStrictEqual(ids, ["ant/claude-fake", "oai/gpt-fake", "oai/gpt-mini", "resp/gpt-fake"])
      const claude = items(byKey.body, "data").find((m) => field(m, "id") === "ant/claude-fake")
      assert.deepStrictEqual(Object.keys(claude ?? {}).sort(), ["context_window", "created", "id", "max_output_tokens", "object", "owned_by"])
      assert.strictEqual(field(claude, "object"), "model")
      assert.strictEqual(field(claude, "owned_by"), "ant")
      assert.strictEqual(field(claude, "context_window"), 200_000)
      assert.strictEqual(field(claude, "max_output_tokens"), 8192)
      assert.isNumber(field(claude, "created"))

      const narrowed = yield* call("GET", "/v1/models", { credential: restricted.secret, header: "x-api-key" })
      assert.deepStrictEqual(items(narrowed.body, "data").map((m) => field(m, "id")), ["ant/claude-fake"])
      const byToken = yield* call("GET", "/v1/models")
      assert.strictEqual(byToken.status, 200)
      assert.strictEqual(items(byToken.body, "data").length, 4)
      const anonymous = yield* call("GET", "/v1/models", { credential: null })
      assert.strictEqual(anonymous.status, 401)
      assert.isString(field(anonymous.body, "error", "message"))
    }))

  it.effect("streams each format through chunk by chunk, rewriting only the model and the credential", () =>
    Effect.gen(function*() {
      const url = yield* serverUrl
      const { secret } = yield* createKey("streamer")
      for (const [format, spec] of Object.entries(streamRequest)) {
        const before = fake.requests.length
        fake.script({ kind: "text", text: "AAAABBBBCCCCDDDD", chunks: 4, delayMs: 250 })
        const header = format === "anthropic" ? "x-api-key" : "bearer"
        const answer = yield* postStreaming(url, spec.path, secret, { ...spec.body, model: spec.model }, header)
        assert.strictEqual(answer.status, 200, `${format}: ${answer.text}`)
        assert.include(answer.contentType, "text/event-stream")
        for (const piece of ["AAAA", "BBBB", "CCCC", "DDDD"]) assert.include(answer.text, piece, format)
        // The first bytes came while the provider was still writing: the stream was not buffered.
        const first = answer.chunkTimes[0] ?? Infinity
        const last = answer.chunkTimes[answer.chunkTimes.length - 1] ?? 0
        assert.isAbove(answer.chunkTimes.length, 2, format)
        assert.isBelow(first, last - 500, `${format}: first chunk at ${first} ms, last at ${last} ms`)

        const upstream = fake.requests[before]
        assert.strictEqual(upstream?.path, spec.path, format)
        const sent = upstream?.body as Json
        assert.strictEqual(sent["model"], spec.model.slice(spec.model.indexOf("/") + 1))
        assert.deepStrictEqual({ ...sent, model: spec.model }, { ...spec.body, model: spec.model })
        const headers = upstream?.headers ?? {}
        if (format === "anthropic") {
          assert.strictEqual(headers["x-api-key"], UPSTREAM_KEY)
          assert.strictEqual(headers["anthropic-version"], "2023-06-01")
          assert.isUndefined(headers["authorization"])
        } else {
          assert.strictEqual(headers["authorization"], `Bearer ${UPSTREAM_KEY}`)
          assert.isUndefined(headers["x-api-key"])
        }
        assert.notInclude(JSON.stringify(headers), secret)
      }

      // Non-streaming JSON answers pass through too.
      fake.script({ kind: "text", text: "plain answer" })
      const plain = yield* postStreaming(url, "/v1/chat/completions", secret, { model: "oai/gpt-fake", messages: [{ role: "user", content: "hi" }] })
      assert.strictEqual(plain.status, 200)
      assert.strictEqual(JSON.parse(plain.text)["object"], "chat.completion")
    }))

  it.effect("refusals: globs (403), wrong format (400), unknown provider or model (404), bad bodies (400)", () =>
    Effect.gen(function*() {
      const { secret } = yield* createKey("refused", ["ant/*"])
      const all = yield* createKey("refused-all")
      const before = fake.requests.length
      const post = (path: string, body: unknown, key = all.secret) => call("POST", path, { body, credential: key })

      const glob = yield* post("/v1/chat/completions", { model: "oai/gpt-fake", stream: true }, secret)
      assert.strictEqual(glob.status, 403)
      assert.include(field(glob.body, "error", "message"), "ant/*")

      const wrongFormat = yield* post("/v1/messages", { model: "oai/gpt-fake", max_tokens: 10, messages: [] })
      assert.strictEqual(wrongFormat.status, 400)
      assert.strictEqual(field(wrongFormat.body, "type"), "error")
      assert.include(field(wrongFormat.body, "error", "message"), "/v1/chat/completions")
      assert.include(field(wrongFormat.body, "error", "message"), "openai-chat")
      const wrongFormat2 = yield* post("/v1/chat/completions", { model: "ant/claude-fake", messages: [] })
      assert.strictEqual(wrongFormat2.status, 400)
      assert.include(field(wrongFormat2.body, "error", "message"), "/v1/messages")

      const noProvider = yield* post("/v1/chat/completions", { model: "nobody/gpt", messages: [] })
      assert.strictEqual(noProvider.status, 404)
      const notListed = yield* post("/v1/chat/completions", { model: "oai/gpt-unknown", messages: [] })
      assert.strictEqual(notListed.status, 404)
      assert.strictEqual((yield* post("/v1/chat/completions", { model: "no-slash", messages: [] })).status, 400)
      assert.strictEqual((yield* post("/v1/chat/completions", { messages: [] })).status, 400)
      assert.strictEqual((yield* post("/v1/chat/completions", { model: `oai/${"x".repeat(300)}`, messages: [] })).status, 400)
      assert.strictEqual((yield* post("/v1/chat/completions", [1, 2])).status, 400)
      assert.strictEqual(fake.requests.length, before, "nothing refused reached the provider")
    }))

  it.effect("provider errors keep their status and message; a dead provider is a 502", () =>
    Effect.gen(function*() {
      const { key, secret } = yield* createKey("errors")
      fake.script({ kind: "error", status: 429, message: "slow down, fake" })
      const limited = yield* call("POST", "/v1/chat/completions", { body: { model: "oai/gpt-fake", stream: true, messages: [] }, credential: secret })
      assert.strictEqual(limited.status, 429)
      assert.include(field(limited.body, "error", "message"), "slow down, fake")
      assert.include(field(limited.body, "error", "message"), "oai")

      fake.script({ kind: "error", status: 529, message: "overloaded, fake" })
      const overloaded = yield* call("POST", "/v1/messages", {
        body: { model: "ant/claude-fake", stream: true, max_tokens: 5, messages: [] },
        credential: secret,
        header: "x-api-key"
      })
      assert.strictEqual(overloaded.status, 529)
      assert.strictEqual(field(overloaded.body, "type"), "error")
      assert.include(field(overloaded.body, "error", "message"), "overloaded, fake")

      fake.script({ kind: "error", status: 401, message: "bad upstream key" })
      const refusedKey = yield* call("POST", "/v1/chat/completions", { body: { model: "oai/gpt-fake", messages: [] }, credential: secret })
      assert.strictEqual(refusedKey.status, 502)
      assert.include(field(refusedKey.body, "error", "message"), "bad upstream key")

      yield* call("POST", "/v1/providers", { body: { name: "dead", baseUrl: "http://127.0.0.1:9/v1", format: "openai-chat" } })
      const dead = yield* call("POST", "/v1/chat/completions", { body: { model: "dead/x", messages: [] }, credential: secret })
      assert.strictEqual(dead.status, 502)
      assert.include(field(dead.body, "error", "message"), "cannot reach provider")

      // An error inside a started stream reaches the client as the provider sent it, and the usage entry says so.
      fake.script({ kind: "error", status: 500, message: "mid-stream boom", midStream: true })
      const midStream = yield* call("POST", "/v1/chat/completions", { body: { model: "oai/gpt-fake", stream: true, messages: [] }, credential: secret })
      assert.strictEqual(midStream.status, 200)
      assert.include(midStream.text, "mid-stream boom")
      const usage = yield* call("GET", `/v1/usage?key=${key["id"]}`)
      assert.deepStrictEqual(items(usage.body, "entries").map((e) => field(e, "status")), [200, 502, 502, 529, 429])
      assert.include(text(usage.body, "entries", 0, "error"), "mid-stream boom")
    }))

  it.effect("a client that disconnects cancels the upstream request", () =>
    Effect.gen(function*() {
      const url = yield* serverUrl
      const { secret } = yield* createKey("leaver")
      const before = fake.aborted
      fake.script({ kind: "hang" })
      yield* postAndDisconnect(url, "/v1/chat/completions", secret, { model: "oai/gpt-fake", stream: true, messages: [] })
      yield* waitFor("the provider to see its client go", Effect.sync(() => (fake.aborted > before ? true : undefined)))
    }))

  it.effect("usage: every request per key with status, tokens and timing", () =>
    Effect.gen(function*() {
      const url = yield* serverUrl
      const { key, secret } = yield* createKey("metered")
      fake.script(
        { kind: "text", text: "a b c", usage: { inputTokens: 11, outputTokens: 7 } },
        { kind: "text", text: "d e f", usage: { inputTokens: 5, outputTokens: 3 } },
        { kind: "text", text: "g h", usage: { inputTokens: 2, outputTokens: 4 } }
      )
      const chat = streamRequest["openai-chat"]!
      const ant = streamRequest["anthropic"]!
      const resp = streamRequest["openai-responses"]!
      yield* postStreaming(url, chat.path, secret, { ...chat.body, model: chat.model })
      yield* postStreaming(url, ant.path, secret, { ...ant.body, model: ant.model })
      yield* postStreaming(url, resp.path, secret, { ...resp.body, model: resp.model })
      yield* call("POST", "/v1/chat/completions", { body: { model: "ant/claude-fake", messages: [] }, credential: secret })

      const report = yield* waitFor("four usage entries", Effect.map(call("GET", `/v1/usage?key=${key["id"]}`), (r) =>
        (field(r.body, "entries", "length") === 4 ? r.body : undefined)))
      const entries = [...items(report, "entries")].reverse()
      assert.deepStrictEqual(entries.map((e) => [field(e, "model"), field(e, "status"), field(e, "inputTokens"), field(e, "outputTokens")]), [
        ["oai/gpt-fake", 200, 11, 7],
        ["ant/claude-fake", 200, 5, 3],
        ["resp/gpt-fake", 200, 2, 4],
        ["ant/claude-fake", 400, null, null]
      ])
      for (const entry of entries) {
        assert.strictEqual(field(entry, "keyId"), key["id"])
        assert.isAtLeast(Number(field(entry, "latencyMs")), 0)
      }
      assert.isNumber(field(entries, 0, "firstByteMs"))
      assert.isString(field(entries, 3, "error"))
      assert.deepStrictEqual(report["totals"], [
        { keyId: key["id"], keyPrefix: key["prefix"], requests: 4, errors: 1, inputTokens: 18, outputTokens: 14 }
      ])
      assert.strictEqual(items((yield* call("GET", `/v1/usage?key=${key["prefix"]}`)).body, "entries").length, 4)
      const future = yield* call("GET", `/v1/usage?key=${key["id"]}&since=2999-01-01T00:00:00Z`)
      assert.deepStrictEqual(future.body, { entries: [], totals: [] })
      assert.strictEqual((yield* call("GET", "/v1/usage?key=tsk_none")).status, 404)
      assert.strictEqual((yield* call("GET", "/v1/usage", { credential: secret })).status, 401)

      // The disconnect of the previous test was recorded as 499.
      const everything = yield* call("GET", "/v1/usage?limit=1000")
      assert.isTrue(items(everything.body, "entries").some((e) => field(e, "status") === 499))
    }))

  it.effect("removing a provider takes its models out of the catalog", () =>
    Effect.gen(function*() {
      const removed = yield* call("DELETE", "/v1/providers/resp")
      assert.strictEqual(removed.status, 200)
      assert.strictEqual((yield* call("DELETE", "/v1/providers/resp")).status, 404)
      const ids = items((yield* call("GET", "/v1/models")).body, "data").map((m) => field(m, "id"))
      assert.notInclude(ids, "resp/gpt-fake")
    }))
})

const BrokenKeyServer = apiServerLayer(sqliteTestLayer()).pipe(
  Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["TETHER_MASTER_KEY", "not-a-key"]]))))
)

layer(BrokenKeyServer, { excludeTestServices: true, timeout: "60 seconds" })("model gateway with an unusable master key", (it) => {
  it.effect("refuses to store a provider key with a 500 that says why; keyless providers still work", () =>
    Effect.gen(function*() {
      const token = yield* Effect.map(
        Effect.flatMap(TokenStore, (t) => t.issue({ kind: "access", name: "admin", scope: "admin", createdBy: "test" })),
        (issued) => Redacted.value(issued.token)
      )
      const withKey = yield* call("POST", "/v1/providers", {
        credential: token,
        body: { name: "keyed", baseUrl: fake.url, apiKey: UPSTREAM_KEY, models: ["gpt-fake"] }
      })
      assert.strictEqual(withKey.status, 500)
      assert.strictEqual(field(withKey.body, "_tag"), "MasterKeyProblem")
      assert.include(text(withKey.body, "error"), "TETHER_MASTER_KEY")
      assert.notInclude(withKey.text, UPSTREAM_KEY)
      assert.strictEqual((yield* call("GET", "/v1/providers/keyed", { credential: token })).status, 404)
      const keyless = yield* call("POST", "/v1/providers", { credential: token, body: { name: "local", baseUrl: fake.url, models: ["gpt-fake"] } })
      assert.strictEqual(keyless.status, 201, keyless.text)
      assert.strictEqual(field(keyless.body, "hasApiKey"), false)
    }))
})

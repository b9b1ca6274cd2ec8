/**
 * The gateway with the providers' official SDKs as clients (openai and
 * @anthropic-ai/sdk), pointed at the server with an inference key, against
 * the fake model server: streamed chat completions, responses and messages,
 * the model list, and an upstream error surfacing as the SDK's own error.
 */
import Anthropic from "@anthropic-ai/sdk"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import { assert, layer } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import OpenAI from "openai"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { apiServerLayer } from "../support/api-server.js"
import { sqliteTestLayer } from "../support/databases.js"
import { startFakeModelServer } from "../support/fake-model-server/index.js"

const fake = await startFakeModelServer()

const TestServer = apiServerLayer(sqliteTestLayer()).pipe(
  Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["TETHER_MASTER_KEY", "22".repeat(32)]]))))
)

/** An admin call to the management API; fails the test on a non-2xx answer. */
const admin = (path: string, body: unknown) =>
  Effect.gen(function*() {
    const { token } = yield* Effect.flatMap(TokenStore, (t) => t.issue({ kind: "access", name: "sdk-admin", scope: "admin", createdBy: "test" }))
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post(path).pipe(HttpClientRequest.bearerToken(Redacted.value(token)), HttpClientRequest.bodyUnsafeJson(body))
    )
    const text = yield* response.text
    assert.isBelow(response.status, 300, text)
    return JSON.parse(text) as unknown
  })

const setup = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const url = server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : ""
  yield* admin("/v1/providers", { name: "oai", baseUrl: fake.url, format: "openai-chat", apiKey: "sk-a", models: ["gpt-fake"] })
  yield* admin("/v1/providers", { name: "resp", baseUrl: fake.url, format: "openai-responses", apiKey: "sk-b", models: ["gpt-fake"] })
  yield* admin("/v1/providers", { name: "ant", baseUrl: fake.url, format: "anthropic", apiKey: "sk-c", models: ["claude-fake"] })
  const created = yield* admin("/v1/keys", { name: "sdk" })
  const secret = (created as { secret: string }).secret
  return {
    url,
    openai: new OpenAI({ baseURL: `${url}/v1`, apiKey: secret, maxRetries: 0 }),
    anthropic: new Anthropic({ baseURL: url, apiKey: secret, maxRetries: 0 })
  }
}).pipe(Effect.cached, Effect.runSync)

layer(TestServer, { excludeTestServices: true, timeout: "60 seconds" })("model gateway with the official SDKs", (it) => {
  it.effect("openai: model list, streamed chat completion and streamed response", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup
      const ids = yield* Effect.promise(async () => {
        const page = await openai.models.list()
        return page.data.map((m) => m.id).sort()
      })
      assert.deepStrictEqual(ids, ["ant/claude-fake", "oai/gpt-fake", "resp/gpt-fake"])

      fake.script({ kind: "text", text: "Hello from chat", chunks: 3 })
      const chat = yield* Effect.promise(async () => {
        const stream = await openai.chat.completions.create({
          model: "oai/gpt-fake",
          stream: true,
          messages: [{ role: "user", content: "hi" }]
        })
        let text = ""
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ""
        return text
      })
      assert.strictEqual(chat, "Hello from chat")

      fake.script({ kind: "text", text: "Hello from responses", chunks: 3 })
      const response = yield* Effect.promise(async () => {
        const stream = await openai.responses.create({ model: "resp/gpt-fake", input: "hi", stream: true })
        let text = ""
        for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta
        return text
      })
      assert.strictEqual(response, "Hello from responses")
    }))

  it.effect("the client's query string reaches the provider (Claude Code calls /v1/messages?beta=true)", () =>
    Effect.gen(function*() {
      const { anthropic, url } = yield* setup
      fake.script({ kind: "text", text: "beta hello" })
      const answer = yield* Effect.promise(async () => {
        const response = await fetch(`${url}/v1/messages?beta=true`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": anthropic.apiKey ?? "", "anthropic-version": "2023-06-01" },
          body: JSON.stringify({ model: "ant/claude-fake", max_tokens: 50, messages: [{ role: "user", content: "hi" }] })
        })
        return { status: response.status, body: (await response.json()) as { content?: ReadonlyArray<{ text?: string }> } }
      })
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.body.content?.[0]?.text, "beta hello")
      assert.strictEqual(fake.requests.at(-1)?.query, "beta=true")
      assert.strictEqual((fake.requests.at(-1)?.body as { model?: string }).model, "claude-fake")
    }))

  it.effect("anthropic: streamed message with x-api-key", () =>
    Effect.gen(function*() {
      const { anthropic } = yield* setup
      fake.script({ kind: "text", text: "Hello from messages", chunks: 4 })
      const text = yield* Effect.promise(async () => {
        const stream = await anthropic.messages.create({
          model: "ant/claude-fake",
          max_tokens: 100,
          stream: true,
          messages: [{ role: "user", content: "hi" }]
        })
        let out = ""
        for await (const event of stream) {
          if (event.type === "content_block_delta" && event.delta.type === "text_delta") out += event.delta.text
        }
        return out
      })
      assert.strictEqual(text, "Hello from messages")
      assert.strictEqual(fake.requests.at(-1)?.headers["x-api-key"], "sk-c")
    }))

  it.effect("errors surface as the SDKs' own errors with the provider's status and message", () =>
    Effect.gen(function*() {
      const { anthropic, openai } = yield* setup
      fake.script({ kind: "error", status: 429, message: "fake rate limit" })
      const openaiError = yield* Effect.promise(() =>
        openai.chat.completions.create({ model: "oai/gpt-fake", messages: [{ role: "user", content: "hi" }] }).then(
          () => undefined,
          (error: unknown) => error
        ))
      assert.instanceOf(openaiError, OpenAI.APIError)
      assert.strictEqual((openaiError as InstanceType<typeof OpenAI.APIError>).status, 429)
      assert.include(String((openaiError as Error).message), "fake rate limit")

      const wrongFormat = yield* Effect.promise(() =>
        anthropic.messages.create({ model: "oai/gpt-fake", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).then(
          () => undefined,
          (error: unknown) => error
        ))
      assert.instanceOf(wrongFormat, Anthropic.APIError)
      assert.strictEqual((wrongFormat as InstanceType<typeof Anthropic.APIError>).status, 400)
      assert.include(String((wrongFormat as Error).message), "/v1/chat/completions")
    }))
})

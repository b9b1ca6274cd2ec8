/**
 * The fake model server speaks each provider's wire format well enough for
 * the real clients: every format is checked twice, once by parsing the raw
 * SSE from `fetch` (event names and order, payload fields) and once through
 * the official SDK (`@anthropic-ai/sdk`, `openai`), whose stream helpers
 * assemble the final message and fail on malformed events. Also: scripted
 * errors (HTTP and mid-stream), the "no scripted turn" error, slow streams,
 * hanging requests that the client abandons, and the models list.
 */
import Anthropic from "@anthropic-ai/sdk"
import OpenAI from "openai"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { type FakeModelServer, NO_SCRIPTED_TURN, startFakeModelServer } from "./fake-model-server/index.js"
import { parseSse, type SseMessage } from "./sse-client.js"

let server: FakeModelServer

beforeAll(async () => {
  server = await startFakeModelServer({ models: [{ id: "claude-fake", context_window: 200_000 }, { id: "gpt-fake" }] })
})
afterAll(() => server.close())

const post = (path: string, body: unknown, signal?: AbortSignal) =>
  fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-dummy" },
    body: JSON.stringify(body),
    ...(signal === undefined ? {} : { signal })
  })

const sseOf = async (response: Response): Promise<Array<SseMessage>> => {
  assert.strictEqual(response.status, 200)
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/)
  const body = response.body
  if (body === null) throw new Error("no body")
  const messages: Array<SseMessage> = []
  // DOM's ReadableStream typing lacks the async iterator Node's implementation has.
  for await (const message of parseSse(body as unknown as AsyncIterable<Uint8Array>)) messages.push(message)
  return messages
}

const dataOf = (message: SseMessage): Record<string, unknown> => JSON.parse(message.data) as Record<string, unknown>

const anthropic = () => new Anthropic({ apiKey: "sk-ant-dummy", baseURL: server.url, maxRetries: 0 })
const openai = () => new OpenAI({ apiKey: "sk-dummy", baseURL: `${server.url}/v1`, maxRetries: 0 })

describe("Anthropic Messages", () => {
  it("streams text as message_start, content blocks, message_delta, message_stop", async () => {
    server.script({ kind: "text", text: "Hello there, world", chunks: 3, usage: { inputTokens: 11, outputTokens: 5 } })
    const messages = await sseOf(await post("/v1/messages", { model: "claude-fake", max_tokens: 64, stream: true, messages: [] }))
    assert.deepStrictEqual(messages.map((m) => m.event), [
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop"
    ])
    for (const message of messages) assert.strictEqual(dataOf(message)["type"], message.event)
    const text = messages.filter((m) => m.event === "content_block_delta").map((m) => (dataOf(m)["delta"] as { text: string }).text)
    assert.strictEqual(text.join(""), "Hello there, world")
    assert.deepStrictEqual(dataOf(messages[7]!), {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 5 }
    })
    const start = dataOf(messages[0]!)["message"] as { model: string; usage: { input_tokens: number } }
    assert.strictEqual(start.model, "claude-fake")
    assert.strictEqual(start.usage.input_tokens, 11)
  })

  it("the SDK assembles a streamed tool call and text", async () => {
    server.script(
      { kind: "tool_call", name: "read_file", arguments: { path: "notes.txt", lines: [1, 2] }, id: "toolu_1", text: "Let me look." },
      { kind: "text", text: "Done: it says hi." }
    )
    const client = anthropic()
    const first = await client.messages.stream({ model: "claude-fake", max_tokens: 64, messages: [{ role: "user", content: "read it" }] })
      .finalMessage()
    assert.strictEqual(first.stop_reason, "tool_use")
    assert.deepStrictEqual(first.content.map((b) => b.type), ["text", "tool_use"])
    const tool = first.content[1]
    assert.isTrue(tool?.type === "tool_use")
    if (tool?.type !== "tool_use") return
    assert.deepStrictEqual([tool.id, tool.name, tool.input], ["toolu_1", "read_file", { path: "notes.txt", lines: [1, 2] }])

    const deltas: Array<string> = []
    const stream = client.messages.stream({ model: "claude-fake", max_tokens: 64, messages: [{ role: "user", content: "x" }] })
    stream.on("text", (delta) => deltas.push(delta))
    const second = await stream.finalMessage()
    assert.strictEqual(second.stop_reason, "end_turn")
    assert.strictEqual(deltas.join(""), "Done: it says hi.")
    assert.isAbove(deltas.length, 1)
    assert.isAbove(second.usage.output_tokens, 0)
    const recorded = server.requests[server.requests.length - 1]
    assert.strictEqual(recorded?.path, "/v1/messages")
    // SDK 1.x sends the key as a bearer token; older clients (and Claude Code) use x-api-key.
    const key = recorded?.headers["x-api-key"] ?? recorded?.headers["authorization"]?.replace(/^Bearer /, "")
    assert.strictEqual(key, "sk-ant-dummy")
    assert.deepStrictEqual((recorded?.body as { stream: boolean }).stream, true)
  })

  it("answers without streaming when stream is not set", async () => {
    server.script({ kind: "text", text: "plain" })
    const message = await anthropic().messages.create({ model: "claude-fake", max_tokens: 8, messages: [{ role: "user", content: "x" }] })
    assert.deepStrictEqual(message.content, [{ type: "text", text: "plain" } as Anthropic.TextBlock])
  })

  it("reports scripted HTTP and mid-stream errors, once", async () => {
    server.script({ kind: "error", status: 429, message: "slow down" })
    const before = server.requests.length
    const error = await anthropic().messages.create({ model: "claude-fake", max_tokens: 8, messages: [] }).catch((e: unknown) => e)
    assert.instanceOf(error, Anthropic.RateLimitError)
    assert.match(String((error as Error).message), /slow down/)
    // The client retries by default; x-should-retry: false stops it.
    const retrying = new Anthropic({ apiKey: "k", baseURL: server.url, maxRetries: 2 })
    server.script({ kind: "error", status: 500, message: "boom" })
    const error2 = await retrying.messages.create({ model: "claude-fake", max_tokens: 8, messages: [] }).catch((e: unknown) => e)
    assert.instanceOf(error2, Anthropic.InternalServerError)
    assert.strictEqual(server.requests.length, before + 2)

    server.script({ kind: "error", status: 529, message: "Overloaded", midStream: true })
    const messages = await sseOf(await post("/v1/messages", { stream: true }))
    assert.deepStrictEqual(messages.map((m) => m.event), ["message_start", "error"])
    assert.deepStrictEqual(dataOf(messages[1]!), { type: "error", error: { type: "overloaded_error", message: "Overloaded" } })
    server.script({ kind: "error", status: 529, message: "Overloaded", midStream: true })
    const streamed = await anthropic().messages.stream({ model: "claude-fake", max_tokens: 8, messages: [] }).finalMessage().catch((e: unknown) => e)
    assert.instanceOf(streamed, Anthropic.APIError)
    assert.match(String((streamed as Error).message), /Overloaded/)
  })
})

describe("OpenAI Responses", () => {
  it("streams text with the response.* events in order", async () => {
    server.script({ kind: "text", text: "abcdef", chunks: 2 })
    const messages = await sseOf(await post("/v1/responses", { model: "gpt-fake", input: "hi", stream: true }))
    assert.deepStrictEqual(messages.map((m) => m.event), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed"
    ])
    messages.forEach((message, i) => {
      assert.strictEqual(dataOf(message)["type"], message.event)
      assert.strictEqual(dataOf(message)["sequence_number"], i)
    })
    const completed = dataOf(messages[9]!)["response"] as { status: string; usage: { total_tokens: number } }
    assert.strictEqual(completed.status, "completed")
    assert.isAbove(completed.usage.total_tokens, 0)
  })

  it("the SDK parses streamed text, a function call, and a non-streamed response", async () => {
    server.script(
      { kind: "text", text: "Hello from responses", chunks: 4 },
      { kind: "tool_call", name: "read_file", arguments: { path: "a.txt" }, id: "call_7" },
      { kind: "text", text: "whole" }
    )
    const client = openai()
    const deltas: Array<string> = []
    const stream = client.responses.stream({ model: "gpt-fake", input: "hi" })
    stream.on("response.output_text.delta", (event) => deltas.push(event.delta))
    const final = await stream.finalResponse()
    assert.strictEqual(final.output_text, "Hello from responses")
    assert.deepStrictEqual(deltas.length, 4)

    const events: Array<string> = []
    let call: { name: string; arguments: string; call_id: string } | undefined
    for await (const event of await client.responses.create({ model: "gpt-fake", input: "x", stream: true })) {
      events.push(event.type)
      if (event.type === "response.output_item.done" && event.item.type === "function_call") call = event.item
    }
    assert.include(events, "response.function_call_arguments.delta")
    assert.strictEqual(events[events.length - 1], "response.completed")
    assert.deepStrictEqual([call?.name, call?.call_id, JSON.parse(call?.arguments ?? "null")], ["read_file", "call_7", { path: "a.txt" }])

    const whole = await client.responses.create({ model: "gpt-fake", input: "x" })
    assert.strictEqual(whole.output_text, "whole")
    assert.strictEqual(server.requests[server.requests.length - 1]?.headers["authorization"], "Bearer sk-dummy")
  })

  it("reports scripted errors as HTTP errors and as response.failed", async () => {
    server.script({ kind: "error", status: 401, message: "bad key" })
    const error = await openai().responses.create({ model: "gpt-fake", input: "x" }).catch((e: unknown) => e)
    assert.instanceOf(error, OpenAI.AuthenticationError)
    assert.match(String((error as Error).message), /bad key/)

    server.script({ kind: "error", status: 500, message: "went wrong", midStream: true })
    const types: Array<string> = []
    for await (const event of await openai().responses.create({ model: "gpt-fake", input: "x", stream: true })) {
      types.push(event.type)
      if (event.type === "response.failed") assert.strictEqual(event.response.error?.message, "went wrong")
    }
    assert.deepStrictEqual(types, ["response.created", "response.failed"])
  })
})

describe("OpenAI Chat Completions", () => {
  it("streams data-only chunks, the usage chunk when asked, then [DONE]", async () => {
    server.script({ kind: "text", text: "xyz", chunks: 3 })
    const messages = await sseOf(
      await post("/v1/chat/completions", { model: "gpt-fake", stream: true, stream_options: { include_usage: true }, messages: [] })
    )
    assert.isTrue(messages.every((m) => m.event === undefined))
    assert.strictEqual(messages[messages.length - 1]?.data, "[DONE]")
    const chunks = messages.slice(0, -1).map(dataOf)
    assert.isTrue(chunks.every((c) => c["object"] === "chat.completion.chunk"))
    const usage = chunks[chunks.length - 1]
    assert.deepStrictEqual(usage?.["choices"], [])
    assert.isAbove((usage?.["usage"] as { total_tokens: number }).total_tokens, 0)
    const finish = chunks[chunks.length - 2]?.["choices"] as Array<{ finish_reason: string }>
    assert.strictEqual(finish[0]?.finish_reason, "stop")

    server.script({ kind: "text", text: "no usage" })
    const plain = (await sseOf(await post("/v1/chat/completions", { model: "gpt-fake", stream: true, messages: [] }))).slice(0, -1)
    assert.isTrue(plain.map(dataOf).every((c) => !("usage" in c)))
  })

  it("the SDK assembles streamed text and tool calls, and reads non-streamed completions", async () => {
    server.script(
      { kind: "text", text: "chat text", chunks: 2 },
      { kind: "tool_call", name: "read_file", arguments: { path: "b.txt" }, id: "call_9", text: "checking" },
      { kind: "tool_call", name: "ls", arguments: {} }
    )
    const client = openai()
    const stream = client.chat.completions.stream({ model: "gpt-fake", messages: [{ role: "user", content: "x" }], stream_options: { include_usage: true } })
    const text = await stream.finalContent()
    assert.strictEqual(text, "chat text")
    const completion = await stream.finalChatCompletion()
    assert.isAbove(completion.usage?.total_tokens ?? 0, 0)

    const withTool = await client.chat.completions.stream({ model: "gpt-fake", messages: [{ role: "user", content: "x" }] }).finalMessage()
    assert.strictEqual(withTool.content, "checking")
    const call = withTool.tool_calls?.[0]
    assert.deepStrictEqual(
      call?.type === "function" ? [call.id, call.function.name, JSON.parse(call.function.arguments)] : [],
      ["call_9", "read_file", { path: "b.txt" }]
    )

    const whole = await client.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "x" }] })
    assert.strictEqual(whole.choices[0]?.finish_reason, "tool_calls")
    assert.isNull(whole.choices[0]?.message.content)
    const wholeCall = whole.choices[0]?.message.tool_calls?.[0]
    assert.strictEqual(wholeCall?.type === "function" ? wholeCall.function.name : undefined, "ls")
  })

  it("a mid-stream error surfaces as an APIError", async () => {
    server.script({ kind: "error", status: 500, message: "chat broke", midStream: true })
    const error = await (async () => {
      for await (const _ of await openai().chat.completions.create({ model: "gpt-fake", messages: [], stream: true })) {
        // reading until it throws
      }
    })().catch((e: unknown) => e)
    assert.instanceOf(error, OpenAI.APIError)
    assert.match(String((error as Error).message), /chat broke/)
  })
})

describe("script, models, slow and hanging streams", () => {
  it("answers 500 in each format's error shape when the script is empty", async () => {
    server.script({ kind: "text", text: "left over" }, { kind: "hang" })
    assert.strictEqual(server.pending, 2)
    server.clearScript()
    assert.strictEqual(server.pending, 0)
    const messages = await post("/v1/messages", { stream: true })
    assert.strictEqual(messages.status, 500)
    assert.strictEqual(messages.headers.get("x-should-retry"), "false")
    assert.deepStrictEqual(await messages.json(), { type: "error", error: { type: "api_error", message: NO_SCRIPTED_TURN } })
    for (const path of ["/v1/responses", "/v1/chat/completions"]) {
      const response = await post(path, { stream: true })
      assert.strictEqual(response.status, 500)
      const body = (await response.json()) as { error: { message: string; type: string } }
      assert.deepStrictEqual([body.error.message, body.error.type], [NO_SCRIPTED_TURN, "server_error"])
    }
    const missing = await fetch(`${server.url}/v1/nothing`)
    assert.strictEqual(missing.status, 404)
    await missing.body?.cancel()
  })

  it("lists the configured models for both SDKs", async () => {
    const fromOpenAi: Array<string> = []
    for await (const model of openai().models.list()) fromOpenAi.push(model.id)
    assert.deepStrictEqual(fromOpenAi, ["claude-fake", "gpt-fake"])
    const page = await anthropic().models.list()
    assert.deepStrictEqual(page.data.map((m) => m.id), ["claude-fake", "gpt-fake"])
    const raw = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: Array<{ context_window?: number }> }
    assert.strictEqual(raw.data[0]?.context_window, 200_000)
  })

  it("paces a slow stream with delayMs", async () => {
    server.script({ kind: "text", text: "slow-stream", chunks: 4, delayMs: 100 })
    const started = Date.now()
    const arrivals: Array<number> = []
    const stream = openai().responses.stream({ model: "gpt-fake", input: "x" })
    stream.on("response.output_text.delta", () => arrivals.push(Date.now() - started))
    assert.strictEqual((await stream.finalResponse()).output_text, "slow-stream")
    assert.strictEqual(arrivals.length, 4)
    assert.isAtLeast(arrivals[3]! - arrivals[0]!, 250, `deltas arrived at ${arrivals.join(", ")} ms`)
  })

  it("a hanging request stays open until the client goes away, which counts as aborted", async () => {
    for (const path of ["/v1/messages", "/v1/responses", "/v1/chat/completions"]) {
      const before = server.aborted
      server.script({ kind: "hang" })
      const controller = new AbortController()
      const response = await post(path, { stream: true }, controller.signal)
      assert.strictEqual(response.status, 200)
      const reader = response.body!.getReader()
      await reader.read() // the first event arrives, then nothing
      const next = reader.read().then(() => "data", () => "aborted")
      const winner = await Promise.race([next, new Promise((resolve) => setTimeout(() => resolve("pending"), 200))])
      assert.strictEqual(winner, "pending", path)
      controller.abort()
      assert.strictEqual(await next, "aborted")
      const deadline = Date.now() + 2_000
      while (server.aborted === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
      assert.strictEqual(server.aborted, before + 1, path)
    }
  })

  it("cancelling an SDK stream mid-way aborts the request", async () => {
    const before = server.aborted
    server.script({ kind: "text", text: "a long slow answer", chunks: 10, delayMs: 100 })
    const stream = anthropic().messages.stream({ model: "claude-fake", max_tokens: 8, messages: [] })
    await new Promise<void>((resolve) => stream.once("text", () => resolve()))
    stream.abort()
    await stream.done().catch(() => {})
    const deadline = Date.now() + 2_000
    while (server.aborted === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.strictEqual(server.aborted, before + 1)
  })
})

/**
 * OpenAI Responses (`POST /v1/responses`) as the fake model server speaks it.
 *
 * Streaming is SSE with `event: <type>` and a JSON `data:` that repeats the
 * type and carries a `sequence_number`: `response.created`,
 * `response.in_progress`; per output item `response.output_item.added`, then
 * for a message `response.content_part.added`, `response.output_text.delta`…,
 * `response.output_text.done`, `response.content_part.done`, or for a
 * function call `response.function_call_arguments.delta`… and
 * `response.function_call_arguments.done`; `response.output_item.done`; and
 * finally `response.completed` with the whole response and its `usage`. A
 * mid-stream error is `response.failed` (the response with `status: "failed"`
 * and `error: {code, message}`). Without `stream` the same turn is one
 * `response` object. HTTP errors are `{error: {message, type, param, code}}`.
 */
import { errorHeaders, modelOf, splitText, type TurnContext, unixSeconds, usageOf, type WireFormat } from "./reply.js"
import type { ScriptedTurn } from "./types.js"

export const openAiErrorType = (status: number): string =>
  status === 401
    ? "invalid_request_error"
    : status === 429
    ? "rate_limit_exceeded"
    : status >= 500
    ? "server_error"
    : "invalid_request_error"

export const openAiErrorBody = (status: number, message: string) => ({
  error: { message, type: openAiErrorType(status), param: null, code: status === 401 ? "invalid_api_key" : null }
})

type OutputItem =
  | {
    readonly type: "message"
    readonly id: string
    readonly status: "in_progress" | "completed"
    readonly role: "assistant"
    readonly content: ReadonlyArray<{ readonly type: "output_text"; readonly text: string; readonly annotations: ReadonlyArray<never> }>
  }
  | {
    readonly type: "function_call"
    readonly id: string
    readonly call_id: string
    readonly name: string
    readonly arguments: string
    readonly status: "in_progress" | "completed"
  }

const respond = async (turn: ScriptedTurn, context: TurnContext): Promise<void> => {
  const { body, reply } = context
  if (turn.kind === "error" && !turn.midStream) {
    return reply.json(turn.status, openAiErrorBody(turn.status, turn.message), {
      ...errorHeaders(turn.retryable ?? false),
      "x-request-id": context.nextId("req_fake_")
    })
  }
  const id = context.nextId("resp_fake_")
  const createdAt = unixSeconds()
  const model = modelOf(body, "gpt-fake")
  const response = (
    status: "in_progress" | "completed" | "failed",
    output: ReadonlyArray<OutputItem>,
    usage: { readonly inputTokens: number; readonly outputTokens: number } | null,
    error: { readonly code: string; readonly message: string } | null = null
  ) => ({
    id,
    object: "response",
    created_at: createdAt,
    status,
    error,
    incomplete_details: null,
    instructions: body["instructions"] ?? null,
    max_output_tokens: body["max_output_tokens"] ?? null,
    model,
    output,
    parallel_tool_calls: true,
    previous_response_id: body["previous_response_id"] ?? null,
    reasoning: { effort: null, summary: null },
    store: body["store"] ?? false,
    temperature: 1,
    text: { format: { type: "text" } },
    tool_choice: body["tool_choice"] ?? "auto",
    tools: body["tools"] ?? [],
    top_p: 1,
    truncation: "disabled",
    usage: usage === null ? null : {
      input_tokens: usage.inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: usage.outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: usage.inputTokens + usage.outputTokens
    },
    user: null,
    metadata: {}
  })

  let sequence = 0
  const emit = (type: string, fields: Record<string, unknown>) =>
    reply.event(type, { type, sequence_number: sequence++, ...fields })

  if (turn.kind === "hang") {
    if (context.stream) {
      reply.startSse({ "x-request-id": context.nextId("req_fake_") })
      emit("response.created", { response: response("in_progress", [], null) })
    } else {
      reply.response.writeHead(200, { "content-type": "application/json" })
      reply.response.flushHeaders()
    }
    return reply.untilClosed()
  }

  if (turn.kind === "error") {
    reply.startSse()
    emit("response.created", { response: response("in_progress", [], null) })
    emit("response.failed", {
      response: response("failed", [], null, { code: turn.status === 429 ? "rate_limit_exceeded" : "server_error", message: turn.message })
    })
    return reply.end()
  }

  const items: Array<OutputItem> = []
  const text = turn.kind === "text" ? turn.text : turn.text ?? ""
  if (turn.kind === "text" || text.length > 0) {
    items.push({
      type: "message",
      id: context.nextId("msg_fake_"),
      status: "completed",
      role: "assistant",
      content: [{ type: "output_text", text, annotations: [] }]
    })
  }
  if (turn.kind === "tool_call") {
    items.push({
      type: "function_call",
      id: context.nextId("fc_fake_"),
      call_id: turn.id ?? context.nextId("call_fake_"),
      name: turn.name,
      arguments: JSON.stringify(turn.arguments),
      status: "completed"
    })
  }
  const generated = items.map((item) => (item.type === "message" ? text : item.arguments)).join("")
  const usage = usageOf(turn, body, generated)

  if (!context.stream) {
    return reply.json(200, response("completed", items, usage), { "x-request-id": context.nextId("req_fake_") })
  }

  const chunks = turn.kind === "text" ? turn.chunks : undefined
  const delayMs = turn.kind === "text" ? turn.delayMs ?? 0 : 0
  reply.startSse({ "x-request-id": context.nextId("req_fake_") })
  emit("response.created", { response: response("in_progress", [], null) })
  emit("response.in_progress", { response: response("in_progress", [], null) })
  for (const [outputIndex, item] of items.entries()) {
    if (item.type === "message") {
      emit("response.output_item.added", { output_index: outputIndex, item: { ...item, status: "in_progress", content: [] } })
      const part = { type: "output_text", text: "", annotations: [] }
      const at = { item_id: item.id, output_index: outputIndex, content_index: 0 }
      emit("response.content_part.added", { ...at, part })
      for (const piece of splitText(text, chunks)) {
        await reply.sleep(delayMs)
        emit("response.output_text.delta", { ...at, delta: piece, logprobs: [] })
      }
      emit("response.output_text.done", { ...at, text, logprobs: [] })
      emit("response.content_part.done", { ...at, part: { ...part, text } })
    } else {
      emit("response.output_item.added", { output_index: outputIndex, item: { ...item, arguments: "", status: "in_progress" } })
      for (const piece of splitText(item.arguments, 2)) {
        emit("response.function_call_arguments.delta", { item_id: item.id, output_index: outputIndex, delta: piece })
      }
      emit("response.function_call_arguments.done", {
        item_id: item.id,
        output_index: outputIndex,
        name: item.name,
        arguments: item.arguments
      })
    }
    emit("response.output_item.done", { output_index: outputIndex, item })
  }
  emit("response.completed", { response: response("completed", items, usage) })
  reply.end()
}

export const openAiResponses: WireFormat = { name: "openai-responses", respond, errorBody: openAiErrorBody }

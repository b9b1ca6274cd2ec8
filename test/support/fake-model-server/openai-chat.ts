/**
 * OpenAI Chat Completions (`POST /v1/chat/completions`) as the fake model
 * server speaks it.
 *
 * Streaming is SSE with `data:` lines only (no `event:`): `chat.completion.chunk`
 * objects whose `choices[0].delta` carries first the role, then `content`
 * pieces, or `tool_calls` (the first with `id`, `type` and the function's
 * name, later ones only `function.arguments` pieces, all with `index`); a
 * chunk with an empty delta and `finish_reason` (`stop` | `tool_calls`);
 * when the request asked for it (`stream_options.include_usage`), as the
 * API does, a last chunk with `choices: []` and `usage`; then `data: [DONE]`.
 * A mid-stream error is a `data:` line with `{error: {...}}`. Without `stream`
 * the turn is one `chat.completion` object (with usage).
 */
import { errorHeaders, modelOf, splitText, type TurnContext, unixSeconds, usageOf, type WireFormat } from "./reply.js"
import { openAiErrorBody } from "./openai-responses.js"
import type { ScriptedTurn } from "./types.js"

const includeUsage = (body: Readonly<Record<string, unknown>>): boolean => {
  const options = body["stream_options"]
  return typeof options === "object" && options !== null && "include_usage" in options && options.include_usage === true
}

const respond = async (turn: ScriptedTurn, context: TurnContext): Promise<void> => {
  const { body, reply } = context
  if (turn.kind === "error" && !turn.midStream) {
    return reply.json(turn.status, openAiErrorBody(turn.status, turn.message), {
      ...errorHeaders(turn.retryable ?? false),
      "x-request-id": context.nextId("req_fake_")
    })
  }
  const id = context.nextId("chatcmpl-fake")
  const created = unixSeconds()
  const model = modelOf(body, "gpt-fake")
  const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }]
  })

  if (turn.kind === "hang") {
    if (context.stream) {
      reply.startSse({ "x-request-id": context.nextId("req_fake_") })
      reply.event(null, chunk({ role: "assistant", content: "" }, null))
    } else {
      reply.response.writeHead(200, { "content-type": "application/json" })
      reply.response.flushHeaders()
    }
    return reply.untilClosed()
  }

  if (turn.kind === "error") {
    reply.startSse()
    reply.event(null, chunk({ role: "assistant", content: "" }, null))
    reply.event(null, openAiErrorBody(turn.status, turn.message))
    return reply.end()
  }

  const text = turn.kind === "text" ? turn.text : turn.text ?? ""
  const call = turn.kind === "tool_call"
    ? { id: turn.id ?? context.nextId("call_fake_"), name: turn.name, arguments: JSON.stringify(turn.arguments) }
    : null
  const usage = usageOf(turn, body, text + (call?.arguments ?? ""))
  const usageJson = {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 }
  }
  const finishReason = call === null ? "stop" : "tool_calls"

  if (!context.stream) {
    return reply.json(200, {
      id,
      object: "chat.completion",
      created,
      model,
      system_fingerprint: null,
      choices: [{
        index: 0,
        message: {
          role: "assistant",
          content: call !== null && text.length === 0 ? null : text,
          refusal: null,
          ...(call === null ? {} : {
            tool_calls: [{ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }]
          })
        },
        logprobs: null,
        finish_reason: finishReason
      }],
      usage: usageJson
    }, { "x-request-id": context.nextId("req_fake_") })
  }

  const chunks = turn.kind === "text" ? turn.chunks : undefined
  const delayMs = turn.kind === "text" ? turn.delayMs ?? 0 : 0
  reply.startSse({ "x-request-id": context.nextId("req_fake_") })
  reply.event(null, chunk({ role: "assistant", content: "", refusal: null }, null))
  if (turn.kind === "text" || text.length > 0) {
    for (const piece of splitText(text, chunks)) {
      await reply.sleep(delayMs)
      reply.event(null, chunk({ content: piece }, null))
    }
  }
  if (call !== null) {
    reply.event(null, chunk({ tool_calls: [{ index: 0, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] }, null))
    for (const piece of splitText(call.arguments, 2)) {
      reply.event(null, chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }, null))
    }
  }
  reply.event(null, chunk({}, finishReason))
  if (includeUsage(body)) reply.event(null, { ...chunk({}, null), choices: [], usage: usageJson })
  reply.event(null, "[DONE]")
  reply.end()
}

export const openAiChatCompletions: WireFormat = { name: "openai-chat-completions", respond, errorBody: openAiErrorBody }

/**
 * Anthropic Messages (`POST /v1/messages`) as the fake model server speaks it.
 *
 * Streaming (`"stream": true`) is Anthropic's SSE: `message_start` (usage
 * with the input tokens), then per content block `content_block_start`,
 * `content_block_delta` (`text_delta`, or `input_json_delta` with
 * `partial_json` for a `tool_use` block, whose start carries `input: {}`) and
 * `content_block_stop`; a `ping` after the first block starts;
 * `message_delta` with `stop_reason` (`end_turn` | `tool_use`) and the output
 * usage; `message_stop`. A mid-stream error is an `error` event
 * (`{type: "error", error: {type, message}}`). Without `stream` the same turn
 * is one `message` object. HTTP errors are `{type: "error", error: {type, message}}`
 * with the error type Anthropic uses for that status.
 */
import { errorHeaders, modelOf, splitText, type TurnContext, usageOf, type WireFormat } from "./reply.js"
import type { ScriptedTurn } from "./types.js"

const errorType = (status: number): string => {
  switch (status) {
    case 400:
      return "invalid_request_error"
    case 401:
      return "authentication_error"
    case 403:
      return "permission_error"
    case 404:
      return "not_found_error"
    case 413:
      return "request_too_large"
    case 429:
      return "rate_limit_error"
    case 529:
      return "overloaded_error"
    default:
      return "api_error"
  }
}

const errorBody = (status: number, message: string) => ({ type: "error", error: { type: errorType(status), message } })

type Block =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "tool_use"; readonly id: string; readonly name: string; readonly input: Record<string, unknown> }

const usageJson = (inputTokens: number, outputTokens: number) => ({
  input_tokens: inputTokens,
  output_tokens: outputTokens,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0
})

const respond = async (turn: ScriptedTurn, context: TurnContext): Promise<void> => {
  const { body, reply } = context
  if (turn.kind === "error" && !turn.midStream) {
    return reply.json(turn.status, errorBody(turn.status, turn.message), {
      ...errorHeaders(turn.retryable ?? false),
      "request-id": context.nextId("req_fake_")
    })
  }
  const id = context.nextId("msg_fake_")
  const model = modelOf(body, "claude-fake")
  const message = (content: ReadonlyArray<Block>, stopReason: string | null, inputTokens: number, outputTokens: number) => ({
    id,
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: usageJson(inputTokens, outputTokens)
  })

  if (turn.kind === "hang") {
    if (context.stream) {
      reply.startSse({ "request-id": context.nextId("req_fake_") })
      reply.event("message_start", { type: "message_start", message: message([], null, 1, 1) })
    } else {
      reply.response.writeHead(200, { "content-type": "application/json" })
      reply.response.flushHeaders()
    }
    return reply.untilClosed()
  }

  if (turn.kind === "error") {
    // Mid-stream: the stream started fine, then the API reports an error event.
    reply.startSse()
    reply.event("message_start", { type: "message_start", message: message([], null, 1, 1) })
    reply.event("error", { type: "error", error: { type: errorType(turn.status), message: turn.message } })
    return reply.end()
  }

  const blocks: Array<Block> = []
  if (turn.kind === "text") blocks.push({ type: "text", text: turn.text })
  if (turn.kind === "tool_call") {
    if (turn.text !== undefined && turn.text.length > 0) blocks.push({ type: "text", text: turn.text })
    blocks.push({ type: "tool_use", id: turn.id ?? context.nextId("toolu_fake_"), name: turn.name, input: turn.arguments })
  }
  const generated = blocks.map((b) => (b.type === "text" ? b.text : JSON.stringify(b.input))).join("")
  const usage = usageOf(turn, body, generated)
  const stopReason = turn.kind === "tool_call" ? "tool_use" : "end_turn"

  if (!context.stream) {
    return reply.json(200, message(blocks, stopReason, usage.inputTokens, usage.outputTokens), {
      "request-id": context.nextId("req_fake_")
    })
  }

  const chunks = turn.kind === "text" ? turn.chunks : undefined
  const delayMs = turn.kind === "text" ? turn.delayMs ?? 0 : 0
  reply.startSse({ "request-id": context.nextId("req_fake_") })
  reply.event("message_start", { type: "message_start", message: message([], null, usage.inputTokens, 1) })
  for (const [index, block] of blocks.entries()) {
    if (block.type === "text") {
      reply.event("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } })
      if (index === 0) reply.event("ping", { type: "ping" })
      for (const piece of splitText(block.text, chunks)) {
        await reply.sleep(delayMs)
        reply.event("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: piece } })
      }
    } else {
      reply.event("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: block.id, name: block.name, input: {} }
      })
      if (index === 0) reply.event("ping", { type: "ping" })
      // As the API does: an empty first delta, then the JSON in pieces.
      for (const piece of ["", ...splitText(JSON.stringify(block.input), 2)]) {
        reply.event("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: piece } })
      }
    }
    reply.event("content_block_stop", { type: "content_block_stop", index })
  }
  reply.event("message_delta", {
    type: "message_delta",
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: usage.outputTokens }
  })
  reply.event("message_stop", { type: "message_stop" })
  reply.end()
}

export const anthropicMessages: WireFormat = { name: "anthropic-messages", respond, errorBody }

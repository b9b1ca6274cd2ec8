/**
 * Reads token counts out of a provider's response while it passes through,
 * without holding it back: the bytes are forwarded as they come, and the
 * meter looks only at complete SSE lines that mention `"usage"` (or, for a
 * plain JSON answer, at the whole body once it ended, up to a bound).
 *
 * Where each format puts usage:
 * - OpenAI Chat: `usage.prompt_tokens` / `usage.completion_tokens` (the last
 *   stream chunk, when the client asked for it, or the JSON answer);
 * - OpenAI Responses: `response.usage.input_tokens` / `output_tokens` in
 *   `response.completed` (or `usage` in the JSON answer);
 * - Anthropic: `message.usage` in `message_start`, then cumulative
 *   `usage.output_tokens` in `message_delta` (or `usage` in the JSON answer).
 * The latest value seen for each count wins.
 *
 * An error the provider reports inside a started stream (Anthropic's `error`
 * event, an OpenAI Chat chunk with `error`, Responses' `response.failed`) is
 * kept too: the client got a 200, but the usage entry says what went wrong.
 */

export interface TokenCounts {
  readonly inputTokens: number | null
  readonly outputTokens: number | null
  /** The message of an error reported inside the stream, if any. */
  readonly error: string | null
}

export interface UsageMeter {
  /** Looks at the next piece of the body (already forwarded). */
  readonly push: (bytes: Uint8Array) => void
  /** The counts seen so far (after the body ended: the final ones). */
  readonly counts: () => TokenCounts
}

/** Lines kept while waiting for their end (bytes), and JSON bodies kept for parsing, are bounded. */
const MAX_PENDING_CHARS = 1 << 20
const MAX_JSON_BYTES = 16 << 20

const count = (value: unknown): number | null =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : null

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The usage object of one event or answer, wherever its format puts it. */
const usageOf = (event: Record<string, unknown>): Record<string, unknown> | undefined => {
  if (isRecord(event["usage"])) return event["usage"]
  if (isRecord(event["response"]) && isRecord(event["response"]["usage"])) return event["response"]["usage"]
  if (isRecord(event["message"]) && isRecord(event["message"]["usage"])) return event["message"]["usage"]
  return undefined
}

/** The message of an in-stream error event of any format; undefined for other events. */
const errorOf = (event: Record<string, unknown>): string | undefined => {
  const error = isRecord(event["error"])
    ? event["error"]
    : isRecord(event["response"]) && isRecord(event["response"]["error"])
    ? event["response"]["error"]
    : undefined
  if (error === undefined) return undefined
  return typeof error["message"] === "string" ? error["message"] : "the provider reported an error in the stream"
}

const makeCounter = () => {
  let inputTokens: number | null = null
  let outputTokens: number | null = null
  let error: string | null = null
  const take = (value: unknown) => {
    if (!isRecord(value)) return
    const failure = errorOf(value)
    if (failure !== undefined) error = `in-stream error from the provider: ${failure}`.slice(0, 500)
    const usage = usageOf(value)
    if (usage === undefined) return
    const input = count(usage["input_tokens"]) ?? count(usage["prompt_tokens"])
    const output = count(usage["output_tokens"]) ?? count(usage["completion_tokens"])
    if (input !== null) inputTokens = input
    if (output !== null) outputTokens = output
  }
  return { take, counts: (): TokenCounts => ({ inputTokens, outputTokens, error }) }
}

const parseOrUndefined = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const USAGE = Buffer.from("\"usage\"")
const ERROR = Buffer.from("\"error\"")
const LF = 0x0a
const CR = 0x0d

/**
 * A meter for a `text/event-stream` body. It works on bytes: the usual chunk
 * ends on an event boundary and mentions neither `"usage"` nor `"error"`, so
 * it costs two native searches and no copy, no decoding, no allocation.
 */
export const sseMeter = (): UsageMeter => {
  const counter = makeCounter()
  /** The start of a line whose end has not arrived yet. */
  let pending: Buffer = Buffer.alloc(0)
  const push = (bytes: Uint8Array) => {
    const chunk = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    let end = chunk.length - 1
    while (end >= 0 && chunk[end] !== LF && chunk[end] !== CR) end--
    if (end === -1) {
      pending = pending.length + chunk.length > MAX_PENDING_CHARS ? Buffer.alloc(0) : Buffer.concat([pending, chunk])
      return
    }
    const complete = pending.length === 0 ? chunk.subarray(0, end) : Buffer.concat([pending, chunk.subarray(0, end)])
    const rest = chunk.subarray(end + 1)
    pending = rest.length === 0 ? Buffer.alloc(0) : rest.length > MAX_PENDING_CHARS ? Buffer.alloc(0) : Buffer.from(rest)
    if (complete.indexOf(USAGE) === -1 && complete.indexOf(ERROR) === -1) return
    for (const line of complete.toString("utf8").split(/\r\n|\r|\n/)) {
      if (!line.startsWith("data:") || !(line.includes("\"usage\"") || line.includes("\"error\""))) continue
      counter.take(parseOrUndefined(line.slice(5).trim()))
    }
  }
  return { push, counts: counter.counts }
}

/** A meter for a JSON body: parsed once the body ended (bodies over 16 MiB are not metered). */
export const jsonMeter = (): UsageMeter => {
  const counter = makeCounter()
  const parts: Array<Uint8Array> = []
  let size = 0
  let parsed = false
  const push = (bytes: Uint8Array) => {
    if (size > MAX_JSON_BYTES) return
    size += bytes.length
    if (size > MAX_JSON_BYTES) parts.length = 0
    else parts.push(bytes)
  }
  const counts = (): TokenCounts => {
    if (!parsed && size <= MAX_JSON_BYTES) {
      parsed = true
      counter.take(parseOrUndefined(Buffer.concat(parts).toString("utf8")))
    }
    return counter.counts()
  }
  return { push, counts }
}

/** The meter for a response with this content type. */
export const meterFor = (contentType: string | undefined): UsageMeter =>
  contentType !== undefined && contentType.toLowerCase().includes("text/event-stream") ? sseMeter() : jsonMeter()

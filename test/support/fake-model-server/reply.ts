/**
 * Writing one response of the fake model server: a JSON body, or an SSE
 * stream written event by event with optional pauses. Once the client has
 * disconnected every write is a no-op and every pause returns at once, so a
 * scripted turn simply runs out when its reader goes away.
 *
 * Also the shared plumbing of the wire formats: the `WireFormat` interface
 * each format module implements, id generation, text chunking and default
 * token counts.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import type { ScriptedTurn, ScriptedUsage } from "./types.js"

export class Reply {
  private closedFlag = false
  private readonly closeWaiters: Array<() => void> = []

  constructor(readonly request: IncomingMessage, readonly response: ServerResponse) {
    response.once("close", () => {
      this.closedFlag = true
      for (const wake of this.closeWaiters.splice(0)) wake()
    })
  }

  /** The connection is gone (client disconnect, server close, or the response ended). */
  get closed(): boolean {
    return this.closedFlag || this.response.destroyed
  }

  /** Sends a complete JSON response. */
  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (this.closed || this.response.headersSent) return
    const text = JSON.stringify(body)
    this.response.writeHead(status, {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(text)),
      ...headers
    })
    this.response.end(text)
  }

  /** Sends the headers of a `text/event-stream` response and flushes them. */
  startSse(headers: Record<string, string> = {}): void {
    if (this.closed || this.response.headersSent) return
    this.response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      ...headers
    })
    this.response.flushHeaders()
  }

  /** One SSE message: `event:` (when named) and a `data:` line with JSON (or a raw string). */
  event(name: string | null, data: unknown): void {
    if (this.closed) return
    const payload = typeof data === "string" ? data : JSON.stringify(data)
    this.response.write(`${name === null ? "" : `event: ${name}\n`}data: ${payload}\n\n`)
  }

  end(): void {
    if (!this.closed) this.response.end()
  }

  /** Waits `ms` (or until the client is gone, whichever is first). */
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.closeWaiters.push(done)
    })
  }

  /** Never finishes on its own: resolves only once the connection is gone. */
  untilClosed(): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => this.closeWaiters.push(resolve))
  }
}

/** Everything a format needs to answer one request with one scripted turn. */
export interface TurnContext {
  readonly reply: Reply
  /** The request's JSON body (an empty object when it had none or was not an object). */
  readonly body: Readonly<Record<string, unknown>>
  /** Whether the client asked for a stream (`"stream": true`). */
  readonly stream: boolean
  /** A fresh id with this prefix, unique within the server (`msg_fake_7`). */
  readonly nextId: (prefix: string) => string
}

export interface WireFormat {
  readonly name: string
  /** Answers with one scripted turn; resolves once the response ended (or the client left). */
  readonly respond: (turn: ScriptedTurn, context: TurnContext) => Promise<void>
  /** This format's error body for an HTTP error status. */
  readonly errorBody: (status: number, message: string) => unknown
}

/** Headers sent with every scripted error: the SDKs' retry loops must not eat the script. */
export const errorHeaders = (retryable: boolean): Record<string, string> => ({ "x-should-retry": retryable ? "true" : "false" })

/** Splits `text` into `count` nearly equal pieces (at least one; no empty pieces unless the text is empty). */
export const splitText = (text: string, count: number | undefined): ReadonlyArray<string> => {
  const characters = Array.from(text)
  const n = Math.max(1, Math.min(count ?? 3, characters.length))
  const size = Math.ceil(characters.length / n)
  const pieces: Array<string> = []
  for (let i = 0; i < characters.length; i += size) pieces.push(characters.slice(i, i + size).join(""))
  return pieces.length === 0 ? [""] : pieces
}

/** Roughly four characters per token, at least one. */
const estimateTokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4))

/** The turn's scripted usage, or an estimate from the request body and the generated text. */
export const usageOf = (
  turn: { readonly usage?: ScriptedUsage },
  body: unknown,
  generated: string
): ScriptedUsage => turn.usage ?? { inputTokens: estimateTokens(JSON.stringify(body) ?? ""), outputTokens: estimateTokens(generated) }

/** Seconds since the epoch, as the OpenAI formats use. */
export const unixSeconds = (): number => Math.floor(Date.now() / 1000)

export const modelOf = (body: Readonly<Record<string, unknown>>, fallback: string): string =>
  typeof body["model"] === "string" ? body["model"] : fallback

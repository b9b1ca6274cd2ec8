/**
 * Following a session's SSE stream from the CLI: reconnects after any drop
 * (server restart, slow-subscriber cut-off, network) and resumes with
 * Last-Event-ID, so the caller sees every event once, in order.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { SessionEventRecord } from "../domain/session-event.js"
import { CliError } from "./errors.js"
import type { RemoteEndpoint } from "./remote.js"

const decodeRecord = Schema.decodeUnknownSync(Schema.parseJson(SessionEventRecord))

interface SseMessage {
  readonly id: string | undefined
  readonly data: string
}

/** Splits an SSE byte stream into messages (comments and unknown fields ignored). */
async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder()
  let buffer = ""
  let id: string | undefined
  let data: Array<string> = []
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    let newline: number
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, "")
      buffer = buffer.slice(newline + 1)
      if (line === "") {
        if (data.length > 0) yield { id, data: data.join("\n") }
        id = undefined
        data = []
      } else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""))
      else if (line.startsWith("id:")) id = line.slice(3).trim()
    }
  }
}

const refusal = async (response: Response): Promise<string> => {
  try {
    const body = (await response.json()) as { error?: unknown }
    if (typeof body.error === "string") return body.error
  } catch {
    // not JSON
  }
  return `HTTP ${response.status}`
}

/** The very first connection failed: the server is not there (later drops are retried). */
export class StreamUnreachable extends Error {}

export class StreamRefused extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener("abort", () => {
      clearTimeout(timer)
      resolve()
    }, { once: true })
  })

async function* follow(endpoint: RemoteEndpoint, sessionId: string, after: number, signal: AbortSignal) {
  let last = after
  let delay = 250
  let connectedOnce = false
  const backOff = async () => {
    await sleep(delay, signal)
    delay = Math.min(delay * 2, 5000)
  }
  while (!signal.aborted) {
    let response: Response
    try {
      response = await fetch(`${endpoint.server}/v1/sessions/${encodeURIComponent(sessionId)}/stream`, {
        headers: {
          accept: "text/event-stream",
          "last-event-id": String(last),
          ...Option.match(endpoint.token, {
            onNone: () => ({}),
            onSome: (token) => ({ authorization: `Bearer ${Redacted.value(token)}` })
          })
        },
        signal
      })
    } catch (error) {
      if (signal.aborted) return
      if (!connectedOnce) {
        const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error)
        throw new StreamUnreachable(`cannot reach the Tether server at ${endpoint.server}: ${cause}`)
      }
      await backOff()
      continue
    }
    if (!response.ok || response.body === null) {
      if (response.status >= 500) {
        await backOff()
        continue
      }
      throw new StreamRefused(response.status, await refusal(response))
    }
    connectedOnce = true
    let received = false
    try {
      for await (const message of parseSse(response.body)) {
        const record = decodeRecord(message.data)
        if (record.seq <= last) continue
        last = record.seq
        received = true
        yield record
      }
    } catch (error) {
      if (signal.aborted) return
      // A body that broke off (network, server restart) resumes from `last`;
      // an event this CLI cannot decode is a real error.
      if (error instanceof Error && error.name === "ParseError") throw error
    }
    // The stream ended (server stopping, or we were too slow): resume after a pause.
    if (received) delay = 250
    await backOff()
  }
}

/**
 * Every event of the session after `after`, following live ones until the
 * consumer stops; interrupting it (Ctrl-C) aborts the request at once.
 */
export const followSession = (
  endpoint: RemoteEndpoint,
  sessionId: string,
  after: number
): Stream.Stream<SessionEventRecord, CliError> =>
  Stream.asyncScoped<SessionEventRecord, CliError>((emit) =>
    Effect.gen(function*() {
      const controller = new AbortController()
      yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
      const pump = async () => {
        try {
          for await (const record of follow(endpoint, sessionId, after, controller.signal)) {
            await emit.single(record)
          }
          await emit.end()
        } catch (error) {
          if (controller.signal.aborted) return
          await emit.fail(
            error instanceof StreamUnreachable
              ? new CliError({ message: error.message, exitCode: 3 })
              : error instanceof StreamRefused
              ? new CliError({
                message: `${error.message}${error.status === 401 || error.status === 403 ? " (check the token's scope)" : ""}`,
                exitCode: error.status === 401 || error.status === 403 ? 4 : 1
              })
              : new CliError({ message: `event stream from ${endpoint.server} failed: ${String(error)}` })
          )
        }
      }
      void pump()
    })
  )

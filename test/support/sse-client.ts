/**
 * A minimal Server-Sent Events client for following a session's
 * `GET /v1/sessions/:id/stream` from tests the way a browser's EventSource
 * would: it parses `id:` / `event:` / `data:` fields (comments and unknown
 * fields ignored), collects the SessionEventRecords the data lines carry, and
 * can resume after a broken body with `Last-Event-ID`.
 *
 * It uses `node:http` rather than `fetch`: in Node 20, aborting a fetch whose
 * streaming body is being read leaves the socket open until the next bytes
 * arrive (for a quiet session, the server's heartbeat 15 s later), so the
 * server would keep serving a client that is gone and take seconds to shut
 * down. `close()` here destroys the socket at once, as EventSource.close does.
 *
 * It checks the framing as it goes: every message's `id` must be its record's
 * seq and its `event` the event's type, and seqs must follow on without gap or
 * repeat. A violation ends the subscription with an error, so a test that
 * awaits `done` fails with the exact message that broke the contract.
 *
 * The server never ends a session stream by itself, so a subscription stops
 * when a record satisfies `until` (default: a status event that finishes the
 * session) or when `close()` is called.
 */
import { request as httpRequest, type IncomingMessage } from "node:http"
import type { SessionEvent } from "../../src/domain/session-event.js"

/** One dispatched SSE message (spec: "dispatch the event" at a blank line). */
export interface SseMessage {
  /** The `id` field of this message, if it had one. */
  readonly id: string | undefined
  /** The `event` field, if any (EventSource would default it to "message"). */
  readonly event: string | undefined
  readonly data: string
}

/** A SessionEventRecord as it appears on the wire (JSON-encoded). */
export interface EventRecordJson {
  readonly sessionId: string
  readonly seq: number
  readonly at: string
  readonly event: SessionEvent
}

/** Whether a record is the status event that finishes its session. */
export const isFinishing = (record: EventRecordJson): boolean =>
  record.event.type === "status" && (record.event.status === "exited" || record.event.status === "failed")

/**
 * Splits an SSE byte stream into messages. Lines end with LF, CRLF or CR;
 * one space after the colon is dropped; several `data:` lines join with LF;
 * messages without data are not dispatched (as in the spec).
 */
export async function* parseSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder()
  let buffer = ""
  let id: string | undefined
  let event: string | undefined
  let data: Array<string> = []
  const takeLines = function*(): Generator<string> {
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffer)
      // A lone CR at the very end may be the first half of a CRLF still in flight.
      if (match === null || (match[0] === "\r" && match.index === buffer.length - 1)) return
      yield buffer.slice(0, match.index)
      buffer = buffer.slice(match.index + match[0].length)
    }
  }
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true })
    for (const line of takeLines()) {
      if (line === "") {
        if (data.length > 0) yield { id, event, data: data.join("\n") }
        id = undefined
        event = undefined
        data = []
        continue
      }
      if (line.startsWith(":")) continue
      const colon = line.indexOf(":")
      const field = colon === -1 ? line : line.slice(0, colon)
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "")
      if (field === "data") data.push(value)
      else if (field === "id" && !value.includes("\0")) id = value
      else if (field === "event") event = value
    }
  }
  // A message not terminated by a blank line is discarded (spec): nothing more to yield.
}

export interface SubscribeOptions {
  /** Bearer token. */
  readonly token?: string
  /** Sent as `?after=N`. */
  readonly after?: number
  /** Sent as the `Last-Event-ID` header of the first request. */
  readonly lastEventId?: number
  /** Stop after the first record for which this is true. Default: the session finished. */
  readonly until?: (record: EventRecordJson) => boolean
  /** After the body breaks off, reconnect with `Last-Event-ID` of the last record. Default false. */
  readonly reconnect?: boolean
}

export interface SessionSubscription {
  /** Records received so far, in order. */
  readonly records: ReadonlyArray<EventRecordJson>
  /** Successful (200) stream requests made so far. */
  readonly connections: number
  /**
   * Resolves with all records once `until` matched (or `close()` was called);
   * rejects on an HTTP error, a framing or ordering violation, or a body that
   * ended while `reconnect` is off.
   */
  readonly done: Promise<ReadonlyArray<EventRecordJson>>
  /** The first record (already received or still to come) matching `predicate`. */
  waitFor(what: string, predicate: (record: EventRecordJson) => boolean, timeoutMs?: number): Promise<EventRecordJson>
  /** Stops reading (aborts the request). Idempotent. */
  close(): void
}

/** The server broke the stream's contract (status, framing, order): never retried. */
class ContractViolation extends Error {}

interface Waiter {
  readonly predicate: (record: EventRecordJson) => boolean
  readonly resolve: (record: EventRecordJson) => void
  readonly reject: (error: Error) => void
  readonly timer: NodeJS.Timeout
}

/** Follows `GET <serverUrl>/v1/sessions/<sessionId>/stream`. Starts at once. */
export const subscribeSession = (serverUrl: string, sessionId: string, options: SubscribeOptions = {}): SessionSubscription => {
  const until = options.until ?? isFinishing
  const controller = new AbortController()
  const records: Array<EventRecordJson> = []
  const waiters = new Set<Waiter>()
  let connections = 0
  let settled = false
  let failure: Error | undefined
  let last = options.lastEventId ?? options.after ?? 0

  const failWaiters = (error: Error) => {
    for (const waiter of waiters) {
      clearTimeout(waiter.timer)
      waiter.reject(error)
    }
    waiters.clear()
  }

  const accept = (message: SseMessage): boolean => {
    let record: EventRecordJson
    try {
      record = JSON.parse(message.data) as EventRecordJson
    } catch {
      throw new ContractViolation(`SSE data is not JSON: ${message.data}`)
    }
    if (message.id !== String(record.seq)) {
      throw new ContractViolation(`SSE id ${JSON.stringify(message.id)} does not match the record's seq ${record.seq}`)
    }
    if (message.event !== record.event.type) {
      throw new ContractViolation(`SSE event ${JSON.stringify(message.event)} does not match the record's type ${record.event.type}`)
    }
    if (record.sessionId !== sessionId) throw new ContractViolation(`record of session ${record.sessionId} on the stream of ${sessionId}`)
    if (record.seq !== last + 1) throw new ContractViolation(`expected seq ${last + 1} after ${last}, got ${record.seq}`)
    last = record.seq
    records.push(record)
    for (const waiter of waiters) {
      if (!waiter.predicate(record)) continue
      clearTimeout(waiter.timer)
      waiters.delete(waiter)
      waiter.resolve(record)
    }
    return until(record)
  }

  /** GET with `node:http` on a socket of its own; resolves with the response head. */
  const get = (url: URL, headers: Record<string, string>): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const request = httpRequest(url, { headers, agent: false, signal: controller.signal }, resolve)
      request.once("error", reject)
      request.end()
    })

  const text = async (response: IncomingMessage): Promise<string> => {
    let body = ""
    for await (const chunk of response) body += String(chunk)
    return body
  }

  const read = async (): Promise<ReadonlyArray<EventRecordJson>> => {
    const url = new URL(`${serverUrl}/v1/sessions/${encodeURIComponent(sessionId)}/stream`)
    if (options.after !== undefined) url.searchParams.set("after", String(options.after))
    let first = true
    for (;;) {
      const headers: Record<string, string> = { accept: "text/event-stream" }
      if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
      if (!first || options.lastEventId !== undefined) headers["last-event-id"] = String(last)
      first = false
      try {
        const response = await get(url, headers)
        if (response.statusCode !== 200) {
          throw new ContractViolation(`stream of ${sessionId}: HTTP ${response.statusCode} ${await text(response)}`)
        }
        const contentType = response.headers["content-type"] ?? ""
        if (!contentType.startsWith("text/event-stream")) {
          throw new ContractViolation(`stream of ${sessionId}: content-type ${contentType}`)
        }
        connections++
        for await (const message of parseSse(response)) {
          if (accept(message)) {
            controller.abort()
            return records
          }
        }
      } catch (error) {
        if (controller.signal.aborted) return records
        // A transport error (refused, reset, cut off) may be retried; a broken contract may not.
        if (!options.reconnect || error instanceof ContractViolation) throw error
        await new Promise((resolve) => setTimeout(resolve, 100))
        continue
      }
      if (controller.signal.aborted) return records
      if (!options.reconnect) throw new Error(`stream of ${sessionId} ended after seq ${last} before the subscription was done`)
    }
  }

  const done = read().then(
    (result) => {
      settled = true
      failWaiters(new Error(`stream of ${sessionId} is done (last seq ${last})`))
      return result
    },
    (error: unknown) => {
      settled = true
      if (controller.signal.aborted && failure === undefined) return records
      failure = error instanceof Error ? error : new Error(String(error))
      failWaiters(failure)
      throw failure
    }
  )
  // Callers that never await `done` must not see an unhandled rejection; those that do still get it.
  done.catch(() => {})

  return {
    get records() {
      return records
    },
    get connections() {
      return connections
    },
    done,
    waitFor: (what, predicate, timeoutMs = 10_000) => {
      const found = records.find(predicate)
      if (found !== undefined) return Promise.resolve(found)
      if (settled) {
        return Promise.reject(failure ?? new Error(`${what}: the stream of ${sessionId} is done (last seq ${last})`))
      }
      return new Promise<EventRecordJson>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last seq ${last})`))
        }, timeoutMs)
        const waiter: Waiter = { predicate, resolve, reject, timer }
        waiters.add(waiter)
      })
    },
    close: () => controller.abort()
  }
}

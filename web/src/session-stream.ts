/**
 * Follows a session's event stream (`GET /v1/sessions/:id/stream`, SSE).
 *
 * EventSource reconnects by itself after a dropped connection and sends
 * `Last-Event-ID`, so the server resumes with exactly the next event. When
 * the browser gives up (an HTTP error such as a restart mid-request), this
 * opens a new EventSource with `?after=<last seq>` after a capped backoff.
 * Events are deduplicated by seq, so nothing is shown twice. The stream is
 * closed once the session has finished and the final status arrived.
 */
import { useEffect, useState } from "preact/hooks"
import { connection, type LiveState } from "./connection.js"

export interface EventRecord {
  readonly sessionId: string
  readonly seq: number
  readonly at: string
  readonly event: { readonly type: string } & Record<string, unknown>
}

const EVENT_TYPES = [
  "status",
  "message_delta",
  "message",
  "tool_call",
  "tool_result",
  "approval_request",
  "approval_resolved",
  "usage",
  "error"
]

const isFinal = (record: EventRecord): boolean =>
  record.event.type === "status" && (record.event["status"] === "exited" || record.event["status"] === "failed")

export interface SessionEvents {
  readonly events: ReadonlyArray<EventRecord>
  readonly state: LiveState
}

export const useSessionEvents = (sessionId: string): SessionEvents => {
  const [events, setEvents] = useState<ReadonlyArray<EventRecord>>([])
  const [state, setState] = useState<LiveState>("connecting")

  useEffect(() => {
    let lastSeq = 0
    let source: EventSource | null = null
    let timer: ReturnType<typeof setTimeout> | undefined
    let backoff = 500
    let stopped = false
    let buffer: Array<EventRecord> = []
    let flushTimer: ReturnType<typeof setTimeout> | undefined
    setEvents([])

    const report = (next: LiveState) => {
      setState(next)
      connection.setLive("events", next)
    }
    const flush = () => {
      flushTimer = undefined
      const batch = buffer
      buffer = []
      if (batch.length > 0) setEvents((previous) => [...previous, ...batch])
    }

    const open = () => {
      if (stopped) return
      report(lastSeq === 0 ? "connecting" : "reconnecting")
      const url = `/v1/sessions/${encodeURIComponent(sessionId)}/stream${lastSeq > 0 ? `?after=${lastSeq}` : ""}`
      const es = new EventSource(url)
      source = es
      es.onopen = () => {
        backoff = 500
        report("live")
      }
      const onEvent = (message: MessageEvent<string>) => {
        let record: EventRecord
        try {
          record = JSON.parse(message.data) as EventRecord
        } catch {
          return
        }
        if (record.seq <= lastSeq) return
        lastSeq = record.seq
        buffer.push(record)
        // Batch bursts (history replay) into one render.
        flushTimer ??= setTimeout(flush, 16)
        if (isFinal(record)) {
          stopped = true
          es.close()
          flush()
          report("none")
        }
      }
      for (const type of EVENT_TYPES) es.addEventListener(type, onEvent as EventListener)
      es.onerror = () => {
        if (stopped) return
        if (es.readyState === EventSource.CLOSED) {
          // The browser gave up (HTTP error): reopen after a pause, from the last seq.
          report("reconnecting")
          timer = setTimeout(open, backoff)
          backoff = Math.min(5_000, backoff * 2)
        } else {
          report("reconnecting")
        }
      }
    }
    open()
    return () => {
      stopped = true
      clearTimeout(timer)
      clearTimeout(flushTimer)
      source?.close()
      connection.setLive("events", "none")
    }
  }, [sessionId])

  return { events, state }
}

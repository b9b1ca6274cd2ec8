/**
 * One session: its timeline (streaming messages, collapsible tool calls with
 * arguments and results, approval cards, status changes), interrupt and stop
 * buttons, a message box, and the terminal tab.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks"
import { get, post } from "../api.js"
import { useLoad } from "../hooks.js"
import { navigate, useLocation } from "../router.js"
import { useSessionEvents } from "../session-stream.js"
import { TerminalView } from "../terminal/TerminalView.js"
import { buildTimeline, type Item } from "../timeline.js"
import type { Session } from "../types.js"
import { ErrorBox, Link, messageOf, StatusPill, timeAgo } from "../ui.js"

const pretty = (value: unknown): string => {
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value, null, 2) ?? String(value)
  } catch {
    return String(value)
  }
}

const ApprovalCard = (props: {
  readonly item: Extract<Item, { kind: "approval" }>
  readonly canWrite: boolean
  readonly decide: (requestId: string, decision: string) => Promise<void>
}) => {
  const [busy, setBusy] = useState(false)
  const { item } = props
  const decide = (decision: string) => {
    setBusy(true)
    void props.decide(item.requestId, decision).finally(() => setBusy(false))
  }
  return (
    <li class={`card approval${item.resolved === null ? " pending" : ""}`} data-testid="approval">
      <div class="row-main">
        <strong>Approval: {item.tool}</strong>
        {item.resolved === null
          ? <span class="pill pill-warn">waiting</span>
          : <span class={`pill ${item.resolved.decision === "deny" ? "pill-bad" : "pill-ok"}`}>{item.resolved.decision.replace("_", " ")}</span>}
      </div>
      {item.description !== null ? <p>{item.description}</p> : null}
      <pre class="code">{pretty(item.input)}</pre>
      {item.resolved !== null
        ? <p class="hint">{item.resolved.by !== null ? `by ${item.resolved.by}` : ""}{item.resolved.note !== null ? ` — ${item.resolved.note}` : ""}</p>
        : props.canWrite
        ? (
          <div class="actions">
            <button type="button" class="button" disabled={busy} onClick={() => decide("allow")}>Allow</button>
            <button type="button" class="button secondary" disabled={busy} onClick={() => decide("allow_session")}>Allow for session</button>
            <button type="button" class="button danger" disabled={busy} onClick={() => decide("deny")}>Deny</button>
          </div>
        )
        : <p class="hint">Read-only access: someone with write access must decide.</p>}
    </li>
  )
}

const TimelineItem = (props: {
  readonly item: Item
  readonly canWrite: boolean
  readonly decide: (requestId: string, decision: string) => Promise<void>
}) => {
  const { item } = props
  switch (item.kind) {
    case "message":
      return (
        <li class={`message role-${item.role}`} data-testid="message">
          <span class="role">{item.role}</span>
          <div class="text">{item.text}{item.streaming ? <span class="cursor">▍</span> : null}</div>
        </li>
      )
    case "tool":
      return (
        <li class="tool">
          <details>
            <summary>
              <span class="tool-name">{item.name}</span>
              {item.result === null
                ? <span class="pill pill-info">running</span>
                : item.result.isError
                ? <span class="pill pill-bad">error</span>
                : <span class="pill pill-ok">done</span>}
            </summary>
            <p class="label">Arguments</p>
            <pre class="code">{pretty(item.input)}</pre>
            {item.result !== null
              ? (
                <>
                  <p class="label">Result</p>
                  <pre class={`code${item.result.isError ? " code-error" : ""}`}>{pretty(item.result.output)}</pre>
                </>
              )
              : null}
          </details>
        </li>
      )
    case "approval":
      return <ApprovalCard item={item} canWrite={props.canWrite} decide={props.decide} />
    case "status":
      return (
        <li class="status-line">
          <StatusPill status={item.status} />
          {item.reason !== null ? <span>{item.reason}</span> : null}
          {item.exitCode !== null ? <span>exit code {item.exitCode}</span> : null}
        </li>
      )
    case "error":
      return <li class="error">{item.message}</li>
  }
}

export const SessionView = ({ id, canWrite }: { readonly id: string; readonly canWrite: boolean }) => {
  const { search } = useLocation()
  const session = useLoad(() => get<Session>(`/v1/sessions/${encodeURIComponent(id)}`), id, 5000)
  const { events, state } = useSessionEvents(id)
  const timeline = useMemo(() => buildTimeline(events), [events])
  const [message, setMessage] = useState("")
  const [error, setError] = useState<string | null>(null)
  const [sending, setSending] = useState(false)
  const endRef = useRef<HTMLDivElement>(null)
  const data = session.data
  // Sessions whose harness runs a PTY (the terminal harness and the native agent CLIs) have a terminal.
  const hasTerminal = data !== undefined && data !== null && (data.harness === "terminal" || data.harness.endsWith("-native"))
  const requested = search.get("tab")
  const tab = hasTerminal ? (requested ?? (data?.harness === "terminal" ? "terminal" : "timeline")) : "timeline"
  const status = timeline.status ?? data?.status ?? null
  const finished = status === "exited" || status === "failed"

  // Keep the newest event in view while following.
  useEffect(() => {
    if (tab === "timeline") endRef.current?.scrollIntoView({ block: "end" })
  }, [timeline.items.length, tab])
  // Refresh the header when the status changes.
  useEffect(() => session.reload(), [timeline.status])

  const sendInput = async (input: Record<string, unknown>) => {
    setError(null)
    try {
      await post(`/v1/sessions/${encodeURIComponent(id)}/events`, input)
    } catch (e) {
      setError(messageOf(e))
      throw e
    }
  }
  const decide = (requestId: string, decision: string) => sendInput({ type: "approval", requestId, decision }).catch(() => {})
  const submit = async (event: Event) => {
    event.preventDefault()
    if (message.trim() === "") return
    setSending(true)
    try {
      await sendInput({ type: "message", text: message })
      setMessage("")
    } catch {
      // shown by sendInput
    } finally {
      setSending(false)
    }
  }

  return (
    <main class="session">
      <div class="page-head">
        <div class="grow">
          <h1 class="ellipsis">{data?.title ?? (data !== null ? (data.args.length > 0 ? data.args.join(" ") : data.harness) : id)}</h1>
          {data !== null
            ? (
              <p class="row-meta">
                {status !== null ? <StatusPill status={status} /> : null}
                <span>{data.harness}</span>
                <span>{data.hostName}{data.hostOnline ? "" : " (offline)"}</span>
                <span class="ellipsis">{data.cwd}</span>
                <span>updated {timeAgo(data.updatedAt)}</span>
              </p>
            )
            : null}
        </div>
      </div>
      <ErrorBox error={session.error ?? error} />
      {canWrite && !finished
        ? (
          <div class="actions">
            <button type="button" class="button secondary" onClick={() => void sendInput({ type: "interrupt" }).catch(() => {})}>Interrupt</button>
            <button type="button" class="button danger" onClick={() => void sendInput({ type: "stop" }).catch(() => {})}>Stop</button>
          </div>
        )
        : null}
      <div class="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={tab === "timeline"} class={tab === "timeline" ? "on" : ""} onClick={() => navigate(`/sessions/${id}?tab=timeline`, true)}>
          Timeline
        </button>
        {hasTerminal
          ? (
            <button type="button" role="tab" aria-selected={tab === "terminal"} class={tab === "terminal" ? "on" : ""} onClick={() => navigate(`/sessions/${id}?tab=terminal`, true)}>
              Terminal
            </button>
          )
          : null}
        <span class="spacer" />
        <span class="hint" data-testid="stream-state">events: {state === "none" ? (finished ? "finished" : "closed") : state}</span>
      </div>
      {tab === "terminal"
        ? <TerminalView sessionId={id} />
        : (
          <>
            <ul class="timeline" data-testid="timeline">
              {timeline.items.map((item) => <TimelineItem key={item.key} item={item} canWrite={canWrite} decide={decide} />)}
            </ul>
            {timeline.usage.input + timeline.usage.output > 0
              ? (
                <p class="hint">
                  {timeline.usage.input} in / {timeline.usage.output} out tokens
                  {timeline.usage.cost > 0 ? ` · $${timeline.usage.cost.toFixed(4)}` : ""}
                </p>
              )
              : null}
            <div ref={endRef} />
            {canWrite && !finished
              ? (
                <form class="composer" onSubmit={submit}>
                  <textarea
                    name="message"
                    rows={2}
                    placeholder="Message…"
                    value={message}
                    onInput={(e) => setMessage(e.currentTarget.value)}
                    onKeyDown={(e) => {
                      if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) void submit(e)
                    }}
                  />
                  <button class="button" type="submit" disabled={sending || message.trim() === ""}>Send</button>
                </form>
              )
              : null}
          </>
        )}
      <p class="hint"><Link href="/sessions">← All sessions</Link></p>
    </main>
  )
}

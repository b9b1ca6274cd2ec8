/**
 * The terminal tab: xterm.js bound to a TerminalClient.
 *
 * - Shows the live screen; a SNAPSHOT resets it, OUTPUT is written as it comes.
 * - Follows the PTY's size (the controller's): a viewer that does not control
 *   the terminal never resizes the PTY, it resizes its xterm to the server's
 *   size and scrolls inside its box. The controller fits xterm to its box and
 *   sends that size.
 * - "Take control" / "Release"; a read-only badge when this viewer cannot
 *   write; the connection state; the exit status.
 * - An extra key row for phones: Esc, Tab, a sticky Ctrl, arrows.
 */
import { FitAddon } from "@xterm/addon-fit"
import { Terminal } from "@xterm/xterm"
import "@xterm/xterm/css/xterm.css"
import { useEffect, useRef, useState } from "preact/hooks"
import { connection } from "../connection.js"
import { type ClientState, type SocketFactory, TerminalClient, type TerminalMetadata } from "./client.js"
import { bridgeInlineStyles } from "./style-bridge.js"

export interface TerminalViewProps {
  readonly sessionId: string
  /** Defaults to the browser's WebSocket on this page's origin. */
  readonly url?: string
  readonly socket?: SocketFactory
}

const browserSocket: SocketFactory = (url, protocols) => new WebSocket(url, [...protocols]) as unknown as ReturnType<SocketFactory>

export const terminalUrl = (sessionId: string): string =>
  `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/sessions/${encodeURIComponent(sessionId)}/terminal`

const KEYS: ReadonlyArray<{ readonly label: string; readonly title: string; readonly data: string }> = [
  { label: "Esc", title: "Escape", data: "\x1b" },
  { label: "Tab", title: "Tab", data: "\t" },
  { label: "←", title: "Left arrow", data: "\x1b[D" },
  { label: "↑", title: "Up arrow", data: "\x1b[A" },
  { label: "↓", title: "Down arrow", data: "\x1b[B" },
  { label: "→", title: "Right arrow", data: "\x1b[C" }
]

/** Ctrl+key for one typed character: letters and a few symbols map to C0 controls. */
const withCtrl = (data: string): string => {
  if (data.length !== 1) return data
  const code = data.toUpperCase().charCodeAt(0)
  return code >= 64 && code <= 95 ? String.fromCharCode(code - 64) : data === "?" ? "\x7f" : data
}

const stateLabel: Record<ClientState, string> = {
  connecting: "connecting…",
  live: "connected",
  reconnecting: "reconnecting…",
  closed: "closed"
}

export const TerminalView = ({ sessionId, url, socket }: TerminalViewProps) => {
  const host = useRef<HTMLDivElement>(null)
  const clientRef = useRef<TerminalClient | null>(null)
  const termRef = useRef<Terminal | null>(null)
  const ctrlRef = useRef(false)
  const [state, setState] = useState<ClientState>("connecting")
  const [metadata, setMetadata] = useState<TerminalMetadata | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [exit, setExit] = useState<string | null>(null)
  const [ctrl, setCtrl] = useState(false)

  useEffect(() => {
    const element = host.current
    if (element === null) return
    const unbridge = bridgeInlineStyles(element)
    const term = new Terminal({
      convertEol: false,
      cursorBlink: true,
      fontSize: 13,
      fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
      scrollback: 5000,
      theme: { background: "#0d1117", foreground: "#e6edf3" }
    })
    const fit = new FitAddon()
    term.loadAddon(fit)
    term.open(element)
    termRef.current = term
    const client = new TerminalClient({ url: url ?? terminalUrl(sessionId), socket: socket ?? browserSocket })
    clientRef.current = client
    let controlling = false

    const fitToBox = (): void => {
      if (!controlling) return
      const size = fit.proposeDimensions()
      if (size === undefined || !Number.isFinite(size.cols) || !Number.isFinite(size.rows)) return
      const cols = Math.max(2, Math.min(1000, size.cols))
      const rows = Math.max(2, Math.min(1000, size.rows))
      if (cols !== term.cols || rows !== term.rows) term.resize(cols, rows)
      client.resize(cols, rows)
    }

    const unsubscribe = client.subscribe((event) => {
      switch (event._tag) {
        case "State":
          setState(event.state)
          connection.setLive("terminal", event.state === "closed" ? "none" : event.state)
          return
        case "Metadata": {
          const was = controlling
          controlling = event.metadata.you.controlling
          setMetadata(event.metadata)
          if (controlling) {
            if (!was) fitToBox()
          } else if (term.cols !== event.metadata.cols || term.rows !== event.metadata.rows) {
            term.resize(event.metadata.cols, event.metadata.rows)
          }
          if (event.metadata.state === "exited") setExit(`exited${event.metadata.exitCode === null ? "" : ` with code ${event.metadata.exitCode}`}`)
          return
        }
        case "Reset":
          term.reset()
          term.resize(event.cols, event.rows)
          term.write(event.data)
          if (controlling) fitToBox()
          return
        case "Output":
          term.write(event.data)
          return
        case "Resize":
          if (term.cols !== event.cols || term.rows !== event.rows) term.resize(event.cols, event.rows)
          return
        case "Exit":
          setExit(`exited${event.code === null ? "" : ` with code ${event.code}`}${event.signal === null ? "" : ` (${event.signal})`}`)
          return
        case "Control":
          if (event.action === "denied") setNotice("You cannot take control of this terminal (read-only access).")
          else if (event.action === "revoked") setNotice("Someone else took control; you are watching.")
          else if (event.action === "granted") setNotice(null)
          return
        case "Error":
          setNotice(event.message)
          return
      }
    })

    const typed = term.onData((data) => {
      let out = data
      if (ctrlRef.current) {
        out = withCtrl(data)
        ctrlRef.current = false
        setCtrl(false)
      }
      if (!client.input(out) && client.metadata !== null && !client.metadata.you.canWrite) {
        setNotice("Read-only: your access cannot type into this terminal.")
      }
    })
    const observer = new ResizeObserver(() => fitToBox())
    observer.observe(element)
    client.connect()
    connection.setLive("terminal", "connecting")
    return () => {
      observer.disconnect()
      typed.dispose()
      unsubscribe()
      client.close()
      clientRef.current = null
      termRef.current = null
      term.dispose()
      unbridge()
      connection.setLive("terminal", "none")
    }
  }, [sessionId, url, socket])

  const send = (data: string) => {
    const client = clientRef.current
    // Keep the on-screen keyboard up: the key buttons must not take the terminal's focus away.
    termRef.current?.focus()
    if (client === null) return
    if (!client.input(data) && client.metadata !== null && !client.metadata.you.canWrite) {
      setNotice("Read-only: your access cannot type into this terminal.")
    }
  }

  const canWrite = metadata?.you.canWrite === true
  const controlling = metadata?.you.controlling === true
  const controller = metadata?.controller ?? null

  return (
    <div class="terminal-tab">
      <div class="terminal-bar">
        <span class={`pill ${state === "live" ? "pill-ok" : state === "closed" ? "pill-muted" : "pill-warn"}`} data-testid="terminal-state">
          {stateLabel[state]}
        </span>
        {!canWrite && metadata !== null ? <span class="pill pill-muted" data-testid="read-only">read-only</span> : null}
        {controlling
          ? <span class="pill pill-ok">you control it</span>
          : controller !== null
          ? <span class="pill pill-muted">controlled by {controller.name}</span>
          : null}
        {exit !== null ? <span class="pill pill-muted" data-testid="terminal-exit">{exit}</span> : null}
        <span class="spacer" />
        {canWrite && !controlling
          ? <button type="button" class="button small" onClick={() => clientRef.current?.takeControl()}>Take control</button>
          : null}
        {controlling
          ? <button type="button" class="button small secondary" onClick={() => clientRef.current?.releaseControl()}>Release</button>
          : null}
      </div>
      {notice !== null ? <p class="notice" role="status">{notice}</p> : null}
      <div class="terminal-box" ref={host} data-testid="terminal" />
      {canWrite
        ? (
          <div class="key-row" aria-label="Extra keys">
            {KEYS.slice(0, 2).map((key) => (
              <button type="button" key={key.label} class="key" title={key.title} onClick={() => send(key.data)}>{key.label}</button>
            ))}
            <button
              type="button"
              class={`key${ctrl ? " key-on" : ""}`}
              title="Ctrl (applies to the next key)"
              aria-pressed={ctrl}
              onClick={() => {
                ctrlRef.current = !ctrlRef.current
                setCtrl(ctrlRef.current)
                termRef.current?.focus()
              }}
            >
              Ctrl
            </button>
            {KEYS.slice(2).map((key) => (
              <button type="button" key={key.label} class="key" title={key.title} onClick={() => send(key.data)}>{key.label}</button>
            ))}
          </div>
        )
        : null}
    </div>
  )
}

/**
 * Forwarding a terminal viewer to the server instance that holds the
 * terminal (several instances behind one URL; see
 * src/services/terminal/TerminalHomes.ts).
 *
 * The instance the viewer reached has already checked its Origin, token and
 * scope and decodes every frame the viewer sends (garbage closes the socket
 * here, as anywhere). It then opens a WebSocket to the home instance's own
 * viewer route with the viewer's token as `Authorization: Bearer` and pipes
 * frames both ways unchanged: the home sees the viewer's token (its name,
 * its scope), and the viewer's ACKs bound what is in flight end to end, so
 * this hop holds no more than the home's per-viewer queue.
 *
 * Close codes pass through both ways. If the home does not answer, or the
 * link to it drops without a close code, the viewer is closed with 1013
 * (try again later): it reconnects, and is served wherever the terminal
 * lives by then.
 */
import WebSocket from "ws"
import type { TerminalFrame } from "../domain/terminal-frame.js"
import type { FrameSocket } from "../services/terminal/RelayTerminal.js"

/** Marks a forwarded request; the receiving instance serves it itself, never forwards it again. */
export const FORWARDED_HEADER = "x-tether-forwarded-by"
export const CLOSE_TRY_AGAIN = 1013
/** Viewer frames held while the link to the home opens, at most (a viewer sends little before it has a snapshot). */
const MAX_PENDING_BYTES = 1024 * 1024

export interface ForwardTarget {
  /** The home instance's URL (`http://10.0.0.5:7337`). */
  readonly home: string
  /** This instance's URL, sent in FORWARDED_HEADER. */
  readonly self: string
  readonly sessionId: string
  /** The access token the viewer presented (verified here). */
  readonly token: string
  readonly subprotocol: string
}

export interface ForwardHandlers {
  readonly open: (socket: FrameSocket, first: TerminalFrame, raw: Uint8Array) => void
  readonly frame: (frame: TerminalFrame, raw: Uint8Array) => void
  readonly closed: () => void
}

/** Close codes an endpoint may send: 1004 is reserved; 1005, 1006 and 1015 only ever describe a close. */
export const sendableCode = (code: number): boolean =>
  (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)

/** A close reason within the protocol's 123 bytes. */
export const closeReason = (reason: string): string => Buffer.from(reason, "utf8").subarray(0, 120).toString("utf8")

export const forwardingHandlers = (target: ForwardTarget): ForwardHandlers => {
  let viewer: FrameSocket | null = null
  let upstream: WebSocket | null = null
  let pending: Array<Uint8Array> = []
  let pendingBytes = 0
  let done = false

  const closeViewer = (code: number, reason: string) => {
    if (done) return
    done = true
    viewer?.close(sendableCode(code) ? code : CLOSE_TRY_AGAIN, closeReason(reason))
  }

  const toHome = (raw: Uint8Array) => {
    if (done) return
    if (upstream !== null && upstream.readyState === WebSocket.OPEN) {
      upstream.send(raw)
      return
    }
    pendingBytes += raw.length
    if (pendingBytes > MAX_PENDING_BYTES) {
      closeViewer(CLOSE_TRY_AGAIN, "the server instance holding this terminal is slow to answer")
      upstream?.terminate()
      return
    }
    pending.push(raw)
  }

  return {
    open: (socket, _first, raw) => {
      viewer = socket
      pending.push(raw)
      pendingBytes += raw.length
      const url = new URL(`/v1/sessions/${encodeURIComponent(target.sessionId)}/terminal`, target.home)
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:"
      const ws = new WebSocket(url, [target.subprotocol], {
        headers: { authorization: `Bearer ${target.token}`, [FORWARDED_HEADER]: target.self },
        perMessageDeflate: false,
        handshakeTimeout: 5_000
      })
      upstream = ws
      ws.binaryType = "nodebuffer"
      ws.on("open", () => {
        for (const frame of pending) ws.send(frame)
        pending = []
        pendingBytes = 0
      })
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        if (isBinary && !done) viewer?.send(data)
      })
      ws.on("unexpected-response", (_request, response) => {
        closeViewer(CLOSE_TRY_AGAIN, `the server instance holding this terminal refused the link (HTTP ${response.statusCode})`)
        ws.terminate()
      })
      // "close" follows every "error"; a link lost without a close frame (1006) becomes 1013.
      ws.on("error", () => {})
      ws.on("close", (code: number, reason: Buffer) =>
        sendableCode(code)
          ? closeViewer(code, reason.toString("utf8"))
          : closeViewer(CLOSE_TRY_AGAIN, "the link to the server instance holding this terminal was lost; reconnect"))
    },
    frame: (_frame, raw) => toHome(raw),
    closed: () => {
      done = true
      const ws = upstream
      if (ws === null) return
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, "the viewer left")
      else ws.terminate()
    }
  }
}

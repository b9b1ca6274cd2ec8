/**
 * Attaches this terminal to a session's terminal on the server
 * (`WS /v1/sessions/:id/terminal`, frames in docs/protocol/terminal.md):
 * raw mode, keystrokes out as INPUT, OUTPUT written to stdout byte for byte.
 *
 * - `control`: takes control on connect, so this terminal's size is the
 *   PTY's (and follows SIGWINCH). `write`: may type but leaves the size to
 *   the controller. `read`: watches only; keys other than the detach key are
 *   ignored.
 * - `Ctrl-\` detaches (the session keeps running). With `read`, Ctrl-C
 *   detaches too.
 * - A dropped connection is resumed transparently from the last offset
 *   (0.25 s doubling to 5 s); the server sends exactly the missing bytes, or
 *   a snapshot which is drawn after a terminal reset.
 * - Flow control: output is acknowledged once stdout took it, so a slow
 *   terminal slows only this viewer.
 * - Status lines (`[tether] …`) go to stderr: host reconnecting, refused
 *   input, control changes.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import WebSocket from "ws"
import { webSocketUrl } from "../domain/server-url.js"
import { decodeFrame, encodeFrame, type TerminalFrame } from "../domain/terminal-frame.js"
import { CliError } from "./errors.js"

export type AttachMode = "control" | "write" | "read"

export interface AttachOptions {
  readonly server: string
  readonly token: string
  readonly sessionId: string
  readonly mode: AttachMode
  /** Shown when detaching: how to come back. */
  readonly reattachHint?: string
}

export type AttachOutcome =
  | { readonly _tag: "Exited"; readonly code: number | null; readonly signal: string | null }
  | { readonly _tag: "Detached" }

const DETACH = 0x1c // Ctrl-\
const CTRL_C = 0x03
const SIGNALS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 }

/** The exit status a shell would report for a program that ended this way. */
export const exitStatusOf = (outcome: AttachOutcome): number => {
  if (outcome._tag === "Detached") return 0
  if (outcome.code !== null) return outcome.code
  return outcome.signal !== null ? 128 + (SIGNALS[outcome.signal] ?? 1) : 1
}

const encode = (frame: TerminalFrame): Uint8Array | null => Either.getOrNull(encodeFrame(frame))

const viewerUrl = (server: string, sessionId: string): string =>
  webSocketUrl(server, `/v1/sessions/${encodeURIComponent(sessionId)}/terminal`)

const status = (text: string) => process.stderr.write(`\r\n[tether] ${text}\r\n`)

export const attachTerminal = (options: AttachOptions): Effect.Effect<AttachOutcome, CliError> =>
  Effect.async<AttachOutcome, CliError>((resume) => {
    const stdin = process.stdin
    const stdout = process.stdout
    const raw = stdin.isTTY === true
    let offset = 0
    let acked = 0
    let socket: WebSocket | null = null
    let finished = false
    let connectedOnce = false
    let retryDelay = 250
    let retryTimer: NodeJS.Timeout | null = null
    let lastState: unknown = null
    /** Until the program's host has been seen, "reconnecting" only means "starting". */
    let seenLive = false

    const send = (frame: TerminalFrame) => {
      const bytes = encode(frame)
      if (bytes !== null && socket?.readyState === WebSocket.OPEN) socket.send(bytes)
    }
    const sendSize = () => {
      if (options.mode === "control" && stdout.isTTY) send({ _tag: "Resize", cols: stdout.columns, rows: stdout.rows })
    }
    const acknowledge = () => {
      if (offset > acked) {
        acked = offset
        send({ _tag: "Ack", offset })
      }
    }

    const finish = (outcome: Either.Either<AttachOutcome, CliError>) => {
      if (finished) return
      finished = true
      if (retryTimer !== null) clearTimeout(retryTimer)
      stdin.off("data", onInput)
      stdout.off("resize", sendSize)
      if (raw) stdin.setRawMode(false)
      stdin.pause()
      socket?.close(1000, "viewer detached")
      resume(Either.isRight(outcome) ? Effect.succeed(outcome.right) : Effect.fail(outcome.left))
    }

    const onInput = (chunk: Buffer) => {
      const detachAt = chunk.indexOf(DETACH)
      const readOnlyQuit = options.mode === "read" && chunk.includes(CTRL_C)
      if (detachAt !== -1 || readOnlyQuit) {
        if (options.mode !== "read" && detachAt > 0) send({ _tag: "Input", data: chunk.subarray(0, detachAt) })
        status(`detached; the session keeps running${options.reattachHint === undefined ? "" : ` (${options.reattachHint})`}`)
        finish(Either.right({ _tag: "Detached" }))
        return
      }
      if (options.mode !== "read") send({ _tag: "Input", data: chunk })
    }

    const handle = (frame: TerminalFrame) => {
      switch (frame._tag) {
        case "Snapshot":
          // A fresh terminal with nothing on it yet needs no reset (it would wipe this screen for nothing).
          if (frame.offset > 0 || offset > 0) stdout.write("\x1bc")
          stdout.write(frame.data)
          offset = frame.offset
          return
        case "Output": {
          offset = frame.offset + frame.data.length
          // Acknowledge once stdout has taken the bytes: a slow terminal slows only this viewer.
          if (stdout.write(frame.data)) setImmediate(acknowledge)
          else stdout.once("drain", acknowledge)
          return
        }
        case "Exit":
          acknowledge()
          finish(Either.right({ _tag: "Exited", code: frame.code, signal: frame.signal }))
          return
        case "Metadata": {
          const state = frame.data["state"]
          if (state !== lastState) {
            if (state === "reconnecting" && seenLive) status("the host is reconnecting; output resumes when it is back")
            else if (lastState === "reconnecting" && state === "live" && seenLive) status("the host is back")
            if (state === "live") seenLive = true
            lastState = state
          }
          return
        }
        case "Error":
          status(frame.message)
          return
        case "Control":
          if (frame.action === "granted") sendSize()
          else if (frame.action === "revoked" && options.mode === "control") {
            status(`control taken by ${String(frame.data["holder"] ?? "another viewer")}; run \`tether control\` to take it back`)
          } else if (frame.action === "denied") status("control denied: this token is read-only")
          return
        default:
          return
      }
    }

    const connect = () => {
      if (finished) return
      const ws = new WebSocket(viewerUrl(options.server, options.sessionId), {
        headers: { authorization: `Bearer ${options.token}` },
        perMessageDeflate: false
      })
      ws.binaryType = "nodebuffer"
      socket = ws
      ws.on("unexpected-response", (_request, response) => {
        const code = response.statusCode ?? 0
        const chunks: Array<Buffer> = []
        response.on("data", (c: Buffer) => chunks.push(c))
        response.on("end", () => {
          let message = `HTTP ${code}`
          try {
            const body: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"))
            if (typeof body === "object" && body !== null && "error" in body && typeof body.error === "string") message = body.error
          } catch {
            // not JSON
          }
          finish(Either.left(new CliError({ message: `cannot attach: ${message}`, exitCode: code === 401 || code === 403 ? 4 : code === 404 ? 2 : 1 })))
        })
      })
      ws.on("open", () => {
        connectedOnce = true
        retryDelay = 250
        send({ _tag: "Resume", offset })
        if (options.mode === "control") send({ _tag: "Control", action: "take", data: {} })
      })
      ws.on("message", (data: Buffer) => {
        const decoded = decodeFrame(data)
        if (Either.isLeft(decoded)) {
          finish(Either.left(new CliError({ message: `the server sent an undecodable frame (${decoded.left.message})` })))
          return
        }
        handle(decoded.right)
      })
      ws.on("error", () => {})
      ws.on("close", (code, reason) => {
        if (finished || socket !== ws) return
        if (code === 4404 || code === 4410 || code === 4400 || code === 1000) {
          finish(Either.left(new CliError({ message: `the server closed the terminal (${code}${reason.length > 0 ? `: ${reason.toString()}` : ""})` })))
          return
        }
        if (!connectedOnce) {
          finish(Either.left(new CliError({ message: `cannot reach ${options.server}`, exitCode: 3 })))
          return
        }
        status(code === 4307 ? "the terminal moved to another server instance; reconnecting" : "connection lost; reconnecting")
        retryTimer = setTimeout(connect, retryDelay)
        retryDelay = Math.min(retryDelay * 2, 5000)
      })
    }

    if (raw) stdin.setRawMode(true)
    stdin.on("data", onInput)
    stdin.resume()
    stdout.on("resize", sendSize)
    connect()
    return Effect.sync(() => finish(Either.right({ _tag: "Detached" })))
  })

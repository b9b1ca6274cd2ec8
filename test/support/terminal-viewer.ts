/**
 * A terminal viewer for tests: a real WebSocket to `/v1/sessions/:id/terminal`
 * speaking the frame codec, with a headless xterm fed exactly as a browser
 * viewer would be (SNAPSHOT resets it, OUTPUT is written, RESIZE resizes).
 * It acknowledges what it received, records every frame, and can resume
 * from its last offset after a reconnect.
 */
import { Terminal } from "@xterm/headless"
import * as Either from "effect/Either"
import WebSocket from "ws"
import { decodeFrame, encodeFrame, type JsonObject, type TerminalFrame } from "../../src/domain/terminal-frame.js"

export interface ViewerOptions {
  readonly token: string
  /** How the token is presented. Default `header`. */
  readonly via?: "header" | "subprotocol"
  readonly origin?: string
  /** Do not acknowledge output (a stalled viewer still reads its socket). Default false. */
  readonly noAck?: boolean
  /** Resume from this offset (0 = a fresh viewer). Default 0. */
  readonly resumeFrom?: number
}

export interface TestViewer {
  readonly frames: Array<TerminalFrame>
  /** Every OUTPUT byte received since the last SNAPSHOT, as text (or since connecting if no snapshot came). */
  readonly output: () => string
  /** The offset after the last byte this viewer holds. */
  readonly offset: () => number
  readonly metadata: () => JsonObject | null
  readonly closeCode: () => number | null
  readonly send: (frame: TerminalFrame) => void
  readonly type: (text: string) => void
  /** The viewer's rendered screen (visible rows, right-trimmed). */
  readonly screen: () => Promise<ReadonlyArray<string>>
  readonly waitFor: (what: string, check: () => boolean, timeoutMs?: number) => Promise<void>
  readonly close: () => void
  readonly socket: WebSocket
  /** Turns acknowledgements on or off (a viewer that renders nothing acknowledges nothing). */
  readonly setAcking: (enabled: boolean) => void
  /** Stops reading the socket (its TCP window fills up) / reads again. */
  readonly pauseReading: () => void
  readonly resumeReading: () => void
}

const encode = (frame: TerminalFrame): Uint8Array =>
  Either.getOrElse(encodeFrame(frame), (e) => {
    throw new Error(e.message)
  })

export const viewerUrl = (serverUrl: string, sessionId: string): string =>
  `${serverUrl.replace(/^http/, "ws")}/v1/sessions/${sessionId}/terminal`

/** Opens a viewer; resolves once the socket is open and RESUME was sent. Rejects with the HTTP status on a refused upgrade. */
export const openViewer = (serverUrl: string, sessionId: string, options: ViewerOptions): Promise<TestViewer> =>
  new Promise((resolve, reject) => {
    const via = options.via ?? "header"
    const headers: Record<string, string> = {}
    if (via === "header") headers["authorization"] = `Bearer ${options.token}`
    if (options.origin !== undefined) headers["origin"] = options.origin
    const protocols = via === "subprotocol" ? ["tether.terminal.v1", `tether.token.${options.token}`] : undefined
    const socket = new WebSocket(viewerUrl(serverUrl, sessionId), protocols, { headers, perMessageDeflate: false })
    socket.binaryType = "nodebuffer"
    const frames: Array<TerminalFrame> = []
    let chunks: Array<Buffer> = []
    let offset = options.resumeFrom ?? 0
    let acked = offset
    let metadata: JsonObject | null = null
    let closeCode: number | null = null
    let terminal = new Terminal({ cols: 80, rows: 24, allowProposedApi: true, scrollback: 10_000 })
    let acking = options.noAck !== true
    /** A frame that breaks the protocol (recorded, not thrown in the socket's listener): `waitFor` fails with it. */
    let protocolError: string | null = null

    socket.on("unexpected-response", (_request, response) => {
      reject(new Error(`upgrade refused: HTTP ${response.statusCode}`))
    })
    socket.on("error", (error) => reject(error))
    socket.on("close", (code) => {
      closeCode = code
    })
    socket.on("message", (data: Buffer) => {
      const decoded = decodeFrame(data)
      if (Either.isLeft(decoded)) {
        protocolError ??= `viewer: undecodable frame ${decoded.left.message}`
        return
      }
      const frame = decoded.right
      frames.push(frame._tag === "Output" ? { ...frame, data: Uint8Array.from(frame.data) } : frame)
      switch (frame._tag) {
        case "Snapshot":
          terminal.dispose()
          terminal = new Terminal({ cols: frame.cols, rows: frame.rows, allowProposedApi: true, scrollback: 10_000 })
          terminal.write(frame.data)
          chunks = []
          offset = frame.offset
          break
        case "Output":
          if (frame.offset !== offset) {
            protocolError ??= `viewer: OUTPUT at ${frame.offset}, expected ${offset}`
            return
          }
          terminal.write(Uint8Array.from(frame.data))
          chunks.push(Buffer.from(frame.data))
          offset += frame.data.length
          if (acking && offset - acked >= 64 * 1024) {
            acked = offset
            socket.send(encode({ _tag: "Ack", offset }))
          }
          break
        case "Resize":
          terminal.resize(frame.cols, frame.rows)
          break
        case "Metadata":
          metadata = frame.data
          break
        default:
          break
      }
    })
    // Acknowledge the tail of a burst too.
    const ackTimer = setInterval(() => {
      if (acking && offset > acked && socket.readyState === WebSocket.OPEN) {
        acked = offset
        socket.send(encode({ _tag: "Ack", offset }))
      }
    }, 20)
    socket.on("close", () => clearInterval(ackTimer))
    socket.on("open", () => {
      socket.send(encode({ _tag: "Resume", offset }))
      resolve({
        frames,
        socket,
        output: () => Buffer.concat(chunks).toString("utf8"),
        offset: () => offset,
        metadata: () => metadata,
        closeCode: () => closeCode,
        send: (frame) => socket.send(encode(frame)),
        type: (text) => socket.send(encode({ _tag: "Input", data: new TextEncoder().encode(text) })),
        screen: () =>
          new Promise((done) =>
            terminal.write("", () => {
              const buffer = terminal.buffer.active
              const lines: Array<string> = []
              for (let y = 0; y < terminal.rows; y++) lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? "")
              done(lines)
            })
          ),
        waitFor: async (what, check, timeoutMs = 10_000) => {
          const deadline = Date.now() + timeoutMs
          while (!check()) {
            if (protocolError !== null) throw new Error(protocolError)
            if (Date.now() > deadline) {
              throw new Error(`viewer: timed out waiting for ${what} (at offset ${offset}, socket ${closeCode === null ? "open" : `closed ${closeCode}`})`)
            }
            await new Promise((r) => setTimeout(r, 10))
          }
        },
        setAcking: (enabled) => {
          acking = enabled
        },
        pauseReading: () => socket.pause(),
        resumeReading: () => socket.resume(),
        close: () => {
          clearInterval(ackTimer)
          socket.close()
          terminal.dispose()
        }
      })
    })
  })

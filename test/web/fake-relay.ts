/**
 * A small terminal relay for testing viewers, on a real WebSocket server
 * (`ws`) speaking the real codec (src/domain/terminal-frame.ts). It follows
 * docs/protocol/terminal.md: RESUME → METADATA, then OUTPUT from the offset
 * (or a SNAPSHOT when asked to forget), INPUT only from viewers that may
 * write, CONTROL take/release, RESIZE from the controller only, ACKs
 * recorded. The program behind it is pluggable: a real PTY (node-pty) or a
 * line echo.
 *
 * It is a stand-in for the server's relay in viewer tests only; the real
 * relay is tested end to end in browser-e2e.test.ts.
 */
import * as Either from "effect/Either"
import type { IncomingMessage } from "node:http"
import { type WebSocket, WebSocketServer } from "ws"
import { decodeFrame, encodeFrame, type TerminalFrame } from "../../src/domain/terminal-frame.js"

export interface Program {
  write(data: Uint8Array): void
  resize(cols: number, rows: number): void
  kill(): void
}

export interface ViewerIdentity {
  readonly id: string
  readonly name: string
  readonly canWrite: boolean
}

export interface FakeRelayOptions {
  /** Starts the program of a session; `emit` appends to its output stream. */
  readonly spawn: (sessionId: string, emit: (data: Uint8Array) => void, size: { cols: number; rows: number }) => Program
  /** Who the upgrade request is; undefined refuses it (401). */
  readonly authorize: (request: IncomingMessage) => Promise<ViewerIdentity | undefined>
  /** Attach to an existing HTTP server (for `upgrade`) instead of listening on a port of its own. */
  readonly noServer?: boolean
}

interface Viewer {
  readonly socket: WebSocket
  readonly who: ViewerIdentity
  acked: number
}

interface Terminal {
  readonly program: Program
  output: Buffer
  cols: number
  rows: number
  controller: Viewer | null
  readonly viewers: Set<Viewer>
}

const PATH = /^\/v1\/sessions\/([^/?]+)\/terminal(?:\?.*)?$/

export class FakeRelay {
  readonly wss: WebSocketServer
  readonly terminals = new Map<string, Terminal>()
  /** Every ACK offset received, in order. */
  readonly acks: Array<number> = []
  /** Every RESUME offset received, in order. */
  readonly resumes: Array<number> = []
  /** Next RESUME answers with a SNAPSHOT instead of OUTPUT (as a relay that dropped old bytes would). */
  forgetHistory = false

  constructor(private readonly options: FakeRelayOptions) {
    this.wss = new WebSocketServer({
      noServer: true,
      handleProtocols: (protocols) => (protocols.has("tether.terminal.v1") ? "tether.terminal.v1" : false)
    })
  }

  /** Handles an HTTP upgrade for `/v1/sessions/:id/terminal`; returns false for other paths. */
  handleUpgrade(request: IncomingMessage, socket: import("node:stream").Duplex, head: Buffer): boolean {
    const match = PATH.exec(request.url ?? "")
    if (match?.[1] === undefined) return false
    const sessionId = decodeURIComponent(match[1])
    void this.options.authorize(request).then((who) => {
      if (who === undefined) {
        socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => this.#attach(sessionId, ws, who))
    })
    return true
  }

  /** Drops every viewer connection (the programs keep running), as a network cut would. */
  dropConnections(): void {
    for (const terminal of this.terminals.values()) {
      for (const viewer of terminal.viewers) viewer.socket.terminate()
    }
  }

  close(): void {
    this.dropConnections()
    for (const terminal of this.terminals.values()) terminal.program.kill()
    this.wss.close()
  }

  #terminal(sessionId: string): Terminal {
    const existing = this.terminals.get(sessionId)
    if (existing !== undefined) return existing
    const terminal: Terminal = {
      program: undefined as unknown as Program,
      output: Buffer.alloc(0),
      cols: 80,
      rows: 24,
      controller: null,
      viewers: new Set()
    }
    const emit = (data: Uint8Array) => {
      const offset = terminal.output.length
      terminal.output = Buffer.concat([terminal.output, data])
      for (const viewer of terminal.viewers) this.#send(viewer, { _tag: "Output", offset, data })
    }
    ;(terminal as { program: Program }).program = this.options.spawn(sessionId, emit, { cols: terminal.cols, rows: terminal.rows })
    this.terminals.set(sessionId, terminal)
    return terminal
  }

  #send(viewer: Viewer, frame: TerminalFrame): void {
    const encoded = encodeFrame(frame)
    if (Either.isLeft(encoded)) throw new Error(encoded.left.message)
    if (viewer.socket.readyState === viewer.socket.OPEN) viewer.socket.send(encoded.right)
  }

  #metadata(terminal: Terminal, viewer: Viewer): TerminalFrame {
    return {
      _tag: "Metadata",
      data: {
        cols: terminal.cols,
        rows: terminal.rows,
        state: "live",
        exitCode: null,
        controller: terminal.controller === null ? null : { id: terminal.controller.who.id, name: terminal.controller.who.name },
        you: { id: viewer.who.id, canWrite: viewer.who.canWrite, controlling: terminal.controller === viewer },
        title: null
      }
    }
  }

  #broadcastMetadata(terminal: Terminal): void {
    for (const viewer of terminal.viewers) this.#send(viewer, this.#metadata(terminal, viewer))
  }

  #attach(sessionId: string, socket: WebSocket, who: ViewerIdentity): void {
    const terminal = this.#terminal(sessionId)
    const viewer: Viewer = { socket, who, acked: 0 }
    let resumed = false
    socket.on("close", () => {
      terminal.viewers.delete(viewer)
      if (terminal.controller === viewer) {
        terminal.controller = null
        this.#broadcastMetadata(terminal)
      }
    })
    socket.on("message", (raw: Buffer, isBinary: boolean) => {
      if (!isBinary) return socket.close(4415, "text")
      const decoded = decodeFrame(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength))
      if (Either.isLeft(decoded)) return socket.close(4400, decoded.left.reason)
      const frame = decoded.right
      switch (frame._tag) {
        case "Resume": {
          if (resumed) return
          resumed = true
          this.resumes.push(frame.offset)
          terminal.viewers.add(viewer)
          this.#send(viewer, this.#metadata(terminal, viewer))
          const total = terminal.output.length
          if (this.forgetHistory || frame.offset > total) {
            this.forgetHistory = false
            this.#send(viewer, { _tag: "Snapshot", offset: total, cols: terminal.cols, rows: terminal.rows, data: terminal.output.toString("utf8") })
          } else {
            this.#send(viewer, { _tag: "Output", offset: frame.offset, data: terminal.output.subarray(frame.offset) })
          }
          return
        }
        case "Input":
          if (!viewer.who.canWrite) return this.#send(viewer, { _tag: "Error", code: 4403, message: "input refused: read-only access" })
          terminal.program.write(frame.data)
          return
        case "Control":
          if (frame.action === "take") {
            if (!viewer.who.canWrite) return this.#send(viewer, { _tag: "Control", action: "denied", data: {} })
            const previous = terminal.controller
            terminal.controller = viewer
            if (previous !== null && previous !== viewer) this.#send(previous, { _tag: "Control", action: "revoked", data: {} })
            this.#send(viewer, { _tag: "Control", action: "granted", data: { holder: who.name } })
            this.#broadcastMetadata(terminal)
          } else if (frame.action === "release" && terminal.controller === viewer) {
            terminal.controller = null
            this.#send(viewer, { _tag: "Control", action: "revoked", data: {} })
            this.#broadcastMetadata(terminal)
          }
          return
        case "Resize":
          if (terminal.controller !== viewer) return
          terminal.cols = frame.cols
          terminal.rows = frame.rows
          terminal.program.resize(frame.cols, frame.rows)
          for (const other of terminal.viewers) this.#send(other, { _tag: "Resize", cols: frame.cols, rows: frame.rows })
          this.#broadcastMetadata(terminal)
          return
        case "Ack":
          viewer.acked = frame.offset
          this.acks.push(frame.offset)
          return
        default:
          return
      }
    })
  }
}

/** A program that echoes input and answers each line with `> LINE` (no PTY needed). */
export const echoProgram = (_sessionId: string, emit: (data: Uint8Array) => void): Program => {
  let line = ""
  return {
    write: (data) => {
      const text = Buffer.from(data).toString("utf8")
      for (const char of text) {
        if (char === "\r") {
          emit(Buffer.from(`\r\n> ${line}\r\n`))
          line = ""
        } else {
          line += char
          emit(Buffer.from(char))
        }
      }
    },
    resize: () => {},
    kill: () => {}
  }
}

/**
 * TerminalClient: one viewer of a session's terminal over the relay's binary
 * WebSocket protocol (docs/protocol/terminal.md; codec in
 * src/domain/terminal-frame.ts). No DOM: the xterm view subscribes to its
 * events, and tests drive it with the `ws` package.
 *
 * Contract:
 *  - After each (re)connect it sends RESUME with the offset after the last
 *    OUTPUT byte it delivered (0 at first), so a reconnect continues where it
 *    stopped: no byte is delivered twice, none is skipped. A SNAPSHOT
 *    replaces the screen and moves the offset to the snapshot's.
 *  - It ACKs what it delivered at least every 256 KiB and after 500 ms idle.
 *  - INPUT is sent only while METADATA says `you.canWrite`; RESIZE only while
 *    `you.controlling`. CONTROL take/release ask the server; its answer
 *    arrives as CONTROL granted/revoked/denied and a new METADATA.
 *  - Lost connections are retried with capped exponential backoff (0.25 s to
 *    5 s) until `close()`, or until the program exited and the socket closed.
 *  - A frame that does not decode closes the socket with the protocol's close
 *    code (then it reconnects).
 */
import * as Either from "effect/Either"
import {
  closeCodeFor,
  decodeFrame,
  encodeFrame,
  type ControlFrame,
  type TerminalFrame
} from "../../../src/domain/terminal-frame.js"

/** What the relay tells viewers about the terminal (METADATA). */
export interface TerminalMetadata {
  readonly cols: number
  readonly rows: number
  readonly state: "live" | "reconnecting" | "exited"
  readonly exitCode: number | null
  readonly controller: { readonly id: string; readonly name: string } | null
  readonly you: { readonly id: string; readonly canWrite: boolean; readonly controlling: boolean }
  readonly title: string | null
}

export type ClientState = "connecting" | "live" | "reconnecting" | "closed"

export type TerminalEvent =
  | { readonly _tag: "State"; readonly state: ClientState }
  | { readonly _tag: "Metadata"; readonly metadata: TerminalMetadata }
  | { readonly _tag: "Reset"; readonly cols: number; readonly rows: number; readonly data: string }
  | { readonly _tag: "Output"; readonly data: Uint8Array }
  | { readonly _tag: "Resize"; readonly cols: number; readonly rows: number }
  | { readonly _tag: "Exit"; readonly code: number | null; readonly signal: string | null }
  | { readonly _tag: "Control"; readonly action: ControlFrame["action"]; readonly data: Readonly<Record<string, unknown>> }
  | { readonly _tag: "Error"; readonly code: number; readonly message: string }

/** The part of the WebSocket API the client uses (browser WebSocket and `ws` both fit). */
export interface SocketLike {
  binaryType: string
  readonly readyState: number
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { readonly data: unknown }) => void) | null
  onclose: ((event: { readonly code: number }) => void) | null
  onerror: ((event: unknown) => void) | null
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
}

export type SocketFactory = (url: string, protocols: ReadonlyArray<string>) => SocketLike

export interface TerminalClientOptions {
  readonly url: string
  /** Subprotocols: `tether.terminal.v1`, plus `tether.token.<token>` when not using the cookie. */
  readonly token?: string | undefined
  readonly socket: SocketFactory
  /** Bytes delivered between ACKs at most (default 256 KiB). */
  readonly ackEveryBytes?: number
  readonly idleAckMs?: number
}

export const TERMINAL_SUBPROTOCOL = "tether.terminal.v1"
const OPEN = 1
const MIN_BACKOFF_MS = 250
const MAX_BACKOFF_MS = 5_000

const asMetadata = (data: Readonly<Record<string, unknown>>): TerminalMetadata | undefined => {
  const you = data["you"]
  if (typeof data["cols"] !== "number" || typeof data["rows"] !== "number") return undefined
  if (typeof you !== "object" || you === null) return undefined
  return data as unknown as TerminalMetadata
}

export class TerminalClient {
  #socket: SocketLike | null = null
  #state: ClientState = "connecting"
  #offset = 0
  #acked = 0
  #metadata: TerminalMetadata | null = null
  #closed = false
  #exited = false
  #backoff = MIN_BACKOFF_MS
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #idleTimer: ReturnType<typeof setTimeout> | undefined
  readonly #listeners = new Set<(event: TerminalEvent) => void>()
  readonly #options: TerminalClientOptions

  constructor(options: TerminalClientOptions) {
    this.#options = options
  }

  /** Offset after the last OUTPUT byte delivered (what RESUME sends on reconnect). */
  get offset(): number {
    return this.#offset
  }
  get state(): ClientState {
    return this.#state
  }
  get metadata(): TerminalMetadata | null {
    return this.#metadata
  }

  subscribe(listener: (event: TerminalEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  connect(): void {
    if (this.#closed) return
    const protocols = this.#options.token === undefined
      ? [TERMINAL_SUBPROTOCOL]
      : [TERMINAL_SUBPROTOCOL, `tether.token.${this.#options.token}`]
    const socket = this.#options.socket(this.#options.url, protocols)
    socket.binaryType = "arraybuffer"
    this.#socket = socket
    socket.onopen = () => {
      this.#backoff = MIN_BACKOFF_MS
      this.#send({ _tag: "Resume", offset: this.#offset })
      this.#setState("live")
    }
    socket.onmessage = (event) => this.#receive(event.data)
    socket.onerror = () => {}
    socket.onclose = () => {
      if (this.#socket !== socket) return
      this.#socket = null
      if (this.#closed || this.#exited) return this.#setState("closed")
      this.#setState("reconnecting")
      this.#retryTimer = setTimeout(() => this.connect(), this.#backoff)
      this.#backoff = Math.min(MAX_BACKOFF_MS, this.#backoff * 2)
    }
  }

  /** Keystrokes or a paste; dropped unless this viewer may write. Returns whether it was sent. */
  input(data: string | Uint8Array): boolean {
    if (this.#metadata?.you.canWrite !== true) return false
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data
    return this.#send({ _tag: "Input", data: bytes })
  }

  /** Our fitted size; sent only while we control the terminal. */
  resize(cols: number, rows: number): boolean {
    if (this.#metadata?.you.controlling !== true) return false
    if (this.#metadata.cols === cols && this.#metadata.rows === rows) return false
    return this.#send({ _tag: "Resize", cols, rows })
  }

  takeControl(): boolean {
    return this.#send({ _tag: "Control", action: "take", data: {} })
  }

  releaseControl(): boolean {
    return this.#send({ _tag: "Control", action: "release", data: {} })
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#retryTimer)
    clearTimeout(this.#idleTimer)
    const socket = this.#socket
    this.#socket = null
    if (socket !== null) socket.close(1000, "viewer closed")
    this.#setState("closed")
  }

  #emit(event: TerminalEvent): void {
    for (const listener of this.#listeners) listener(event)
  }

  #setState(state: ClientState): void {
    if (this.#state === state) return
    this.#state = state
    this.#emit({ _tag: "State", state })
  }

  #send(frame: TerminalFrame): boolean {
    const socket = this.#socket
    if (socket === null || socket.readyState !== OPEN) return false
    const encoded = encodeFrame(frame)
    if (Either.isLeft(encoded)) return false
    socket.send(encoded.right)
    return true
  }

  #ack(): void {
    clearTimeout(this.#idleTimer)
    if (this.#acked === this.#offset) return
    if (this.#send({ _tag: "Ack", offset: this.#offset })) this.#acked = this.#offset
  }

  #delivered(): void {
    if (this.#offset - this.#acked >= (this.#options.ackEveryBytes ?? 256 * 1024)) return this.#ack()
    clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(() => this.#ack(), this.#options.idleAckMs ?? 500)
  }

  #receive(raw: unknown): void {
    const bytes = raw instanceof ArrayBuffer
      ? new Uint8Array(raw)
      : raw instanceof Uint8Array
      ? raw
      : undefined
    if (bytes === undefined) return // text messages are not part of the protocol
    const decoded = decodeFrame(bytes)
    if (Either.isLeft(decoded)) {
      this.#socket?.close(closeCodeFor(decoded.left), decoded.left.reason)
      return
    }
    const frame = decoded.right
    switch (frame._tag) {
      case "Metadata": {
        const metadata = asMetadata(frame.data)
        if (metadata === undefined) return
        this.#metadata = metadata
        if (metadata.state === "exited") this.#exited = true
        this.#emit({ _tag: "Metadata", metadata })
        return
      }
      case "Snapshot":
        this.#offset = frame.offset
        this.#acked = Math.min(this.#acked, frame.offset)
        this.#emit({ _tag: "Reset", cols: frame.cols, rows: frame.rows, data: frame.data })
        this.#delivered()
        return
      case "Output": {
        const end = frame.offset + frame.data.length
        if (end <= this.#offset) return // already delivered
        // Deliver only what is new; a gap (server skipped ahead) is accepted as is.
        const data = frame.offset < this.#offset ? frame.data.subarray(this.#offset - frame.offset) : frame.data
        this.#offset = end
        if (data.length > 0) this.#emit({ _tag: "Output", data: data.slice() })
        this.#delivered()
        return
      }
      case "Resize":
        this.#emit({ _tag: "Resize", cols: frame.cols, rows: frame.rows })
        return
      case "Exit":
        this.#exited = true
        this.#emit({ _tag: "Exit", code: frame.code, signal: frame.signal })
        return
      case "Control":
        this.#emit({ _tag: "Control", action: frame.action, data: frame.data })
        return
      case "Error":
        this.#emit({ _tag: "Error", code: frame.code, message: frame.message })
        return
      default:
        return // Input, Ack, Resume are never sent to viewers
    }
  }
}

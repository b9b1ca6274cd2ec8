/**
 * The runner's end of one terminal's relay: a WebSocket to
 * `<server>/v1/runners/terminals/<sessionId>` speaking the terminal frames of
 * docs/protocol/terminal.md, and the bounded retransmit buffer behind it.
 *
 * - Every output byte is kept (with its stream offset) until the server
 *   acknowledges that it stored it (ACK). The buffer holds at most
 *   `capacity` bytes (default 16 MiB): `write` returns false at that point
 *   and the PTY is paused until acknowledgements make room (`onWritable`).
 * - On every (re)connect the runner introduces itself with METADATA
 *   `{cols, rows, from, inputEnd}` (`inputEnd`: the INPUT bytes received so
 *   far, so the server writes again what a broken link did not deliver);
 *   the server answers RESUME with the offset it has stored,
 *   and the runner sends everything from there. If the server is behind the
 *   buffer's start (it lost more than the buffer held) the runner sends from
 *   its oldest byte and the server records the gap.
 * - At most `window` bytes (default 2 MiB) are in flight unacknowledged;
 *   each ACK lets more go.
 * - Output is flushed as soon as the event loop is idle: bytes written in one
 *   turn go out together, in OUTPUT frames of at most 1 MiB, never delayed by
 *   a timer.
 * - After the program exits: EXIT follows the last OUTPUT; once the server has
 *   acknowledged every byte it closes the link (1000) and the link is done.
 * - The link reconnects forever (0.25 s doubling to 5 s) until it is done,
 *   closed, or the server says the session is not (or no longer) a terminal
 *   it relays (close code 4404).
 */
import * as Either from "effect/Either"
import WebSocket from "ws"
import { decodeFrame, encodeFrame, MAX_OUTPUT_DATA_BYTES, outputFrameOf, type TerminalFrame } from "../../domain/terminal-frame.js"
import { OffsetLog } from "../../services/terminal/OffsetLog.js"
import type { TerminalChannel, TerminalSize } from "../../services/terminal/TerminalChannel.js"

export const DEFAULT_RETRANSMIT_BYTES = 16 * 1024 * 1024
/** Bytes sent but not acknowledged, at most: the server's parse backlog stays within its ring. */
export const DEFAULT_SEND_WINDOW = 2 * 1024 * 1024
/** Close code: the server does not relay a terminal for this session. */
export const CLOSE_UNKNOWN_TERMINAL = 4404

export interface TerminalLinkOptions {
  /** `ws(s)://…/v1/runners/terminals/<sessionId>`. */
  readonly url: string
  readonly authorization: string
  readonly initial: TerminalSize
  /** Retransmit buffer size. Default 16 MiB. */
  readonly capacity?: number
  /** Unacknowledged bytes in flight, at most. Default 2 MiB. */
  readonly window?: number
  readonly log?: (message: string) => void
}

/** Frames this link sends are always valid (offsets from its own log, sizes from the PTY). */
const encode = (frame: TerminalFrame): Uint8Array =>
  Either.getOrElse(encodeFrame(frame), (error) => {
    throw new Error(`terminal link: cannot encode ${frame._tag}: ${error.message}`)
  })

export class TerminalLink implements TerminalChannel {
  private readonly buffer = new OffsetLog()
  private readonly capacity: number
  private readonly window: number
  private readonly writableListeners: Array<() => void> = []
  private readonly inputListeners: Array<(data: Uint8Array) => void> = []
  /** INPUT bytes received from servers, over every connection of this link. */
  private inputReceived = 0
  private readonly resizeListeners: Array<(size: TerminalSize) => void> = []
  private socket: WebSocket | null = null
  /** Whether the server has said where to resume on the current connection. */
  private resumed = false
  /** The offset after the last byte sent on the current connection. */
  private sentEnd = 0
  private flushScheduled = false
  private size: TerminalSize
  private exitInfo: { readonly code: number | null; readonly signal: string | null } | null = null
  private exitSent = false
  private full = false
  private done = false
  private closed = false
  private retryDelay = 250
  private retryTimer: NodeJS.Timeout | null = null
  private readonly finishedWaiters: Array<() => void> = []
  /** Connections made so far (tests and diagnostics). */
  connections = 0

  constructor(private readonly options: TerminalLinkOptions) {
    this.capacity = options.capacity ?? DEFAULT_RETRANSMIT_BYTES
    this.window = options.window ?? DEFAULT_SEND_WINDOW
    this.size = options.initial
    this.connect()
  }

  /** Bytes not yet acknowledged by the server. */
  get pending(): number {
    return this.buffer.size
  }

  /** The stream offset up to which the server has acknowledged the output. */
  get acknowledged(): number {
    return this.buffer.start
  }

  /** True once the server has every byte and the exit (or the link was given up). */
  get finished(): boolean {
    return this.done
  }

  write = (data: Uint8Array): boolean => {
    if (this.exitInfo !== null || this.closed) return true
    this.buffer.append(data)
    this.scheduleFlush()
    if (this.buffer.size >= this.capacity) this.full = true
    return !this.full
  }

  onWritable = (listener: () => void): void => {
    this.writableListeners.push(listener)
  }

  onInput = (listener: (data: Uint8Array) => void): void => {
    this.inputListeners.push(listener)
  }

  onResize = (listener: (size: TerminalSize) => void): void => {
    this.resizeListeners.push(listener)
  }

  exit = (code: number | null, signal: string | null): void => {
    if (this.exitInfo !== null) return
    this.exitInfo = { code, signal }
    this.scheduleFlush()
  }

  /** Resolves once the link is done (everything delivered) or closed. */
  whenFinished(): Promise<void> {
    if (this.done || this.closed) return Promise.resolve()
    return new Promise((resolve) => this.finishedWaiters.push(resolve))
  }

  /** Ends the link now; unsent output is dropped. */
  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.socket?.close(1000, "runner closed the terminal")
    this.socket = null
    this.settle()
  }

  private settle(): void {
    for (const waiter of this.finishedWaiters.splice(0)) waiter()
  }

  private connect(): void {
    if (this.closed || this.done) return
    const socket = new WebSocket(this.options.url, { headers: { authorization: this.options.authorization }, perMessageDeflate: false })
    socket.binaryType = "nodebuffer"
    this.socket = socket
    this.resumed = false
    socket.on("open", () => {
      this.connections++
      this.retryDelay = 250
      // `from`: the oldest byte this runner still holds (a server that lacks what came before learns of the gap at once).
      // `inputEnd`: the INPUT bytes received so far (the server writes again what a broken link did not deliver).
      socket.send(encode({
        _tag: "Metadata",
        data: { cols: this.size.cols, rows: this.size.rows, from: this.buffer.start, inputEnd: this.inputReceived }
      }))
    })
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        socket.close(4400, "text messages are not part of the terminal protocol")
        return
      }
      const decoded = decodeFrame(data)
      if (Either.isLeft(decoded)) {
        this.options.log?.(`terminal link: undecodable frame from the server (${decoded.left.message})`)
        socket.close(4400, decoded.left.reason)
        return
      }
      this.handle(decoded.right)
    })
    socket.on("error", (error) => {
      this.options.log?.(`terminal link: ${error.message}`)
    })
    socket.on("close", (code) => {
      if (this.socket === socket) this.socket = null
      this.resumed = false
      if (code === 1000 && this.exitSent && this.buffer.size === 0) {
        this.done = true
        this.settle()
        return
      }
      if (code === CLOSE_UNKNOWN_TERMINAL) {
        this.options.log?.("terminal link: the server does not relay this session's terminal; giving up")
        this.done = true
        this.settle()
        return
      }
      this.scheduleReconnect()
    })
  }

  private scheduleReconnect(): void {
    if (this.closed || this.done || this.retryTimer !== null) return
    const delay = this.retryDelay
    this.retryDelay = Math.min(this.retryDelay * 2, 5000)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      this.connect()
    }, delay)
  }

  private handle(frame: TerminalFrame): void {
    switch (frame._tag) {
      case "Resume": {
        // The server stored everything before frame.offset.
        if (frame.offset >= this.buffer.start && frame.offset <= this.buffer.end) this.acknowledge(frame.offset)
        this.sentEnd = Math.min(Math.max(frame.offset, this.buffer.start), this.buffer.end)
        this.exitSent = false
        this.resumed = true
        this.scheduleFlush()
        return
      }
      case "Ack":
        this.acknowledge(frame.offset)
        return
      case "Input":
        this.inputReceived += frame.data.length
        for (const listener of this.inputListeners) listener(frame.data)
        return
      case "Resize":
        this.size = { cols: frame.cols, rows: frame.rows }
        for (const listener of this.resizeListeners) listener(this.size)
        return
      case "Error":
        this.options.log?.(`terminal link: server error ${frame.code}: ${frame.message}`)
        return
      default:
        return
    }
  }

  private acknowledge(offset: number): void {
    if (offset <= this.buffer.start) return
    this.buffer.trimTo(offset)
    this.scheduleFlush()
    if (this.full && this.buffer.size < this.capacity) {
      this.full = false
      for (const listener of this.writableListeners) listener()
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      this.flush()
    })
  }

  private flush(): void {
    const socket = this.socket
    if (socket === null || socket.readyState !== WebSocket.OPEN || !this.resumed) return
    const limit = Math.min(this.buffer.end, this.buffer.start + this.window)
    const parts = this.sentEnd < limit ? this.buffer.readFrom(this.sentEnd, MAX_OUTPUT_DATA_BYTES) : null
    if (parts !== null && parts.length > 0) {
      // Coalesce what accumulated into as few frames as possible (≤ 1 MiB each).
      let frameStart = parts[0]!.offset
      let batch: Array<Uint8Array> = []
      let batchBytes = 0
      const sendBatch = () => {
        if (batchBytes === 0) return
        socket.send(outputFrameOf(frameStart, batch))
        frameStart += batchBytes
        batch = []
        batchBytes = 0
      }
      let cursor = this.sentEnd
      for (const part of parts) {
        if (cursor >= limit) break
        const data = cursor + part.data.length > limit ? part.data.subarray(0, limit - cursor) : part.data
        if (batchBytes + data.length > MAX_OUTPUT_DATA_BYTES) sendBatch()
        batch.push(data)
        batchBytes += data.length
        cursor += data.length
      }
      sendBatch()
      this.sentEnd = cursor
    }
    if (this.exitInfo !== null && !this.exitSent && this.sentEnd === this.buffer.end) {
      socket.send(encode({ _tag: "Exit", code: this.exitInfo.code, signal: this.exitInfo.signal }))
      this.exitSent = true
    }
  }
}

/**
 * One terminal as the server relays it: the runner's link (output in,
 * keystrokes and size out), the viewers, the ring of recent output, the
 * headless mirror of the screen and the transcript on disk. Frame layouts are
 * in docs/protocol/terminal.md; this is the behaviour behind them.
 *
 * Runner link: the runner says hello (METADATA `{cols, rows}`), the server
 * answers RESUME with the offset after the last byte it has, and the runner
 * sends OUTPUT from there. Bytes the server already has are dropped; a jump
 * forward (the runner's buffer no longer held what the server lacked) is a
 * recorded gap: ring and mirror restart at the new offset and every viewer
 * is resynced from a snapshot. The server ACKs what is on disk. The screen
 * mirror is not on this path: it follows the transcript on disk by itself
 * (see TerminalMirror.ts); only if output it must parse piles up beyond
 * `mirrorBacklogBytes` are ACKs held (which slows the runner, whose send
 * window is bounded by unacknowledged bytes). After EXIT and the last ACK the server
 * closes the link (1000). A newer link for the same terminal replaces the
 * older one (closed with 4409).
 *
 * Viewers: a viewer's first frame is RESUME with the offset after the last
 * byte it holds. If the ring still has that offset it gets exactly the
 * missing bytes; otherwise (and always for offset 0) a SNAPSHOT taken at a
 * point in the stream, then OUTPUT from that point: nothing interleaves and
 * nothing repeats, because everything here runs on one thread and the ring
 * holds what came after the snapshot point. Viewers ACK what they rendered;
 * a viewer with more than `viewerQueueBytes` unacknowledged (or stuck in its
 * socket) is stalled: nothing more is sent to it until it catches up, then
 * it continues from the ring, or from the transcript on disk (a queue's worth
 * at a time) while it is within `replayBytes` of the live end, else from a
 * fresh snapshot. The PTY and the other viewers never wait for it, and what
 * it has not read is on disk, not in memory.
 *
 * Control: write-scope viewers may type; read-scope viewers get an ERROR
 * (4403) for every INPUT, RESIZE or `take`. One viewer at a time holds
 * control (`take` / `release`): only its RESIZE reaches the PTY (debounced),
 * and only its terminal's query replies (cursor reports, device attributes,
 * colour replies) are passed on; everyone else's are stripped. With no
 * controller, replies from the longest-connected writer are passed on.
 */
import * as Either from "effect/Either"
import { stripQueryReplies } from "../../domain/terminal-replies.js"
import {
  encodeFrame,
  type JsonObject,
  MAX_OUTPUT_DATA_BYTES,
  DEFAULT_MAX_FRAME_BYTES,
  HEADER_BYTES,
  outputFrameOf,
  type TerminalFrame
} from "../../domain/terminal-frame.js"
import { OutputRing, type RingBlockPool } from "./OutputRing.js"
import type { TerminalSize } from "./TerminalChannel.js"
import { type MirrorSnapshot, type ScreenMirror, type ScreenMirrorFactory, TerminalMirror } from "./TerminalMirror.js"
import type { Transcript } from "./Transcript.js"

/** What the relay needs of a WebSocket. */
export interface FrameSocket {
  readonly send: (frame: Uint8Array) => void
  readonly close: (code: number, reason: string) => void
  /** Bytes queued in the socket and not yet handed to the kernel. */
  readonly bufferedAmount: () => number
}

export const CLOSE_SUPERSEDED = 4409
/** The terminal is held by another server instance now: reconnect (and be forwarded there). */
export const CLOSE_MOVED = 4307
export const CLOSE_PROTOCOL = 4400
export const ERROR_READ_ONLY = 4403
export const ERROR_NOT_DELIVERED = 4503
/** Keystrokes kept while the runner link is down, at most. */
const TYPEAHEAD_BYTES = 64 * 1024
/**
 * Keystrokes sent to the runner are kept this long, for a link that breaks
 * before the runner reads them (its next hello says how much it got); then
 * they are forgotten, so typed secrets do not linger in the server's memory.
 */
const SENT_INPUT_KEPT_MS = 60_000

export interface RelayTerminalOptions {
  readonly sessionId: string
  readonly transcript: Transcript
  readonly initialSize: TerminalSize
  /** Recent output kept for reconnecting viewers. Default 4 MiB. */
  readonly ringBytes?: number
  /** Where the ring's blocks come from and go back to when the terminal lets its ring go (shared by a server's terminals). */
  readonly blockPool?: RingBlockPool
  /** Mirror scrollback lines. Default 10 000. */
  readonly scrollback?: number
  /** Unacknowledged bytes a viewer may have before it is stalled. Default 2 MiB. */
  readonly viewerQueueBytes?: number
  /** A stalled viewer this close to the live end continues from the transcript; further behind, from a snapshot. Default 64 MiB. */
  readonly replayBytes?: number
  /** Default 300 ms. */
  readonly resizeDebounceMs?: number
  /** How long keystrokes sent to the runner are kept for a link that breaks before the runner reads them. Default 60 s. */
  readonly sentInputKeptMs?: number
  /** Output the mirror must still parse, at most, before the runner's ACKs are held back. Default 8 MiB. */
  readonly mirrorBacklogBytes?: number
  /** Where the screen mirror runs (default: in this thread). */
  readonly mirrorFactory?: ScreenMirrorFactory
  /** The program's exit when it is already known (a terminal reloaded after its end). */
  readonly exited?: { readonly code: number | null; readonly signal: string | null } | null
  /** Output was lost between `from` and `to` (recorded as a session event by the caller). */
  readonly onGap?: (from: number, to: number) => void
  readonly log?: (message: string) => void
}

export interface ViewerIdentity {
  readonly id: string
  /** Shown to other viewers (the token's name). */
  readonly name: string
  readonly canWrite: boolean
}

type ViewerPhase = "awaiting_resume" | "syncing" | "live" | "stalled"

export interface Viewer extends ViewerIdentity {
  readonly socket: FrameSocket
  phase: ViewerPhase
  /** The offset after the last byte sent to it. */
  sentEnd: number
  /** The offset after the last byte it acknowledged. */
  ackedEnd: number
  /** Stalled behind the ring on bytes the transcript is still writing: continued once they are on disk. */
  waitingForDisk: boolean
  readonly joinedAt: number
}

export type TerminalState = "live" | "reconnecting" | "exited"

const encode = (frame: TerminalFrame): Uint8Array | null => Either.getOrNull(encodeFrame(frame))

const MAX_SNAPSHOT_TEXT_BYTES = DEFAULT_MAX_FRAME_BYTES - HEADER_BYTES.Snapshot - 4096
/** How many times a terminal opens a new mirror after one broke (a transcript that keeps failing is not retried forever). */
const MAX_MIRROR_REBUILDS = 3

export class RelayTerminal {
  readonly sessionId: string
  private readonly transcript: Transcript
  private ring: OutputRing
  /** The screen mirror; null while an ended terminal nobody watches keeps only `finalScreen`. */
  private mirror: ScreenMirror | null = null
  /** An ended terminal's last screen, kept instead of the mirror once it is released (see `releaseIfIdle`). */
  private finalScreen: MirrorSnapshot | null = null
  /** A release waits for the final snapshot. */
  private releasing = false
  /** Mirrors opened again after one broke. */
  private mirrorRebuilds = 0
  private readonly ringBytes: number
  private readonly viewerQueueBytes: number
  private readonly replayBytes: number
  private readonly resizeDebounceMs: number
  private readonly mirrorBacklogBytes: number
  private readonly viewers = new Map<string, Viewer>()
  private runner: FrameSocket | null = null
  private size: TerminalSize
  private controller: string | null = null
  private exitInfo: { readonly code: number | null; readonly signal: string | null } | null
  /** The offset after the last byte received from the runner. */
  private receivedEnd: number
  /** The last offset acknowledged to the runner. */
  private ackedToRunner = 0
  /** The current runner link sent EXIT (its output is complete). */
  private runnerSentExit = false
  /** When the runner last sent a frame (a finished session's backlog is still arriving). */
  private lastRunnerFrameAt = 0
  private resizeTimer: NodeJS.Timeout | null = null
  private lastResizeAt = 0
  /** Keystrokes typed while the runner link is down (typeahead), delivered when it is back. */
  private typeahead: Array<Uint8Array> = []
  private typeaheadBytes = 0
  /** INPUT bytes written to runner links so far, and the newest of them (at most TYPEAHEAD_BYTES) with their offsets. */
  private inputSentEnd = 0
  private sentInput: Array<{ readonly offset: number; readonly data: Uint8Array; readonly at: number }> = []
  private sentInputBytes = 0
  private sentInputTimer: NodeJS.Timeout | null = null
  private readonly sentInputKeptMs: number
  private pendingSize: TerminalSize | null = null
  private disposed = false
  private viewerSerial = 0
  private readonly listeners: Array<() => void> = []
  /** Output bytes relayed and gaps recorded (diagnostics, benchmarks). */
  readonly stats = { bytesIn: 0, gaps: 0, snapshots: 0, stalls: 0, replayed: 0 }

  constructor(private readonly options: RelayTerminalOptions) {
    this.sessionId = options.sessionId
    this.transcript = options.transcript
    this.ringBytes = options.ringBytes ?? 4 * 1024 * 1024
    this.viewerQueueBytes = options.viewerQueueBytes ?? 2 * 1024 * 1024
    this.replayBytes = options.replayBytes ?? 64 * 1024 * 1024
    this.sentInputKeptMs = options.sentInputKeptMs ?? SENT_INPUT_KEPT_MS
    this.resizeDebounceMs = options.resizeDebounceMs ?? 300
    this.mirrorBacklogBytes = options.mirrorBacklogBytes ?? 8 * 1024 * 1024
    this.size = options.initialSize
    this.exitInfo = options.exited ?? null
    // Rebuild from what is on disk (a restarted server, or a terminal reloaded after its end).
    const tail = this.transcript.tail(this.ringBytes)
    this.receivedEnd = this.transcript.end
    this.ring = new OutputRing(tail.offset, options.blockPool)
    this.ring.append(tail.data)
    this.transcript.onStored((end, segment) => {
      if (this.mirror !== null) this.mirror.stored(end, segment)
      else if (this.finalScreen === null || end !== this.finalScreen.offset) this.screen()
      this.acknowledgeRunner()
      for (const viewer of this.viewers.values()) {
        if (viewer.waitingForDisk && viewer.phase === "stalled") {
          viewer.waitingForDisk = false
          this.catchUp(viewer)
        }
      }
      this.releaseIfIdle()
    })
    this.screen()
  }

  /**
   * The screen mirror, opened if the terminal has none (at construction, or
   * when a released terminal's screen may change again): it starts from the
   * transcript's last ring's worth, as after a server restart.
   */
  private screen(): ScreenMirror {
    if (this.mirror !== null) return this.mirror
    this.finalScreen = null
    const makeMirror: ScreenMirrorFactory = this.options.mirrorFactory ?? ((o) => new TerminalMirror(o))
    const start = this.transcript.end - Math.min(this.ringBytes, this.transcript.end - this.transcript.segment.offset)
    const mirror = makeMirror({
      cols: this.size.cols,
      rows: this.size.rows,
      scrollback: this.options.scrollback ?? 10_000,
      file: this.transcript.path,
      segment: this.transcript.segment,
      startOffset: start,
      precompute: { maxBytes: MAX_SNAPSHOT_TEXT_BYTES }
    })
    this.mirror = mirror
    mirror.onProgress(() => this.acknowledgeRunner())
    mirror.onFailure((message) => {
      // A broken mirror only gives empty screens: a new one, rebuilt from the transcript (a few times at most).
      const rebuild = this.mirror === mirror && !this.disposed && this.mirrorRebuilds < MAX_MIRROR_REBUILDS
      this.options.log?.(`${message}; ${rebuild ? "rebuilding the screen from the transcript" : "late joiners get an empty screen"}`)
      if (!rebuild) return
      this.mirrorRebuilds++
      // The new one first: snapshots the broken one still owes (answered empty as it goes) are then asked of it.
      this.mirror = null
      this.screen()
      mirror.dispose()
    })
    mirror.stored(this.transcript.end, this.transcript.segment)
    return mirror
  }

  /** Whether the terminal keeps only its final screen now (no mirror, an empty ring). */
  get released(): boolean {
    return this.mirror === null
  }

  /**
   * An ended terminal that nobody watches and whose output is all on disk
   * keeps only its final screen: the mirror (screen, scrollback: megabytes)
   * and the ring are let go. A joining viewer gets that screen; one resuming
   * from an offset gets the missing bytes from the transcript. Should output
   * come after all (a runner delivering a backlog late), the mirror is
   * rebuilt from the transcript.
   */
  private releaseIfIdle(): void {
    const mirror = this.mirror
    if (mirror === null || this.releasing || !this.idleEnded()) return
    this.releasing = true
    const end = this.receivedEnd
    mirror.snapshot(end, (snapshot) => {
      this.releasing = false
      if (this.mirror !== mirror || this.disposed || !this.idleEnded() || this.receivedEnd !== end || snapshot.offset !== end) return
      this.mirror = null
      mirror.dispose()
      this.finalScreen = snapshot
      this.ring.release()
    }, MAX_SNAPSHOT_TEXT_BYTES)
  }

  private idleEnded(): boolean {
    return this.exitInfo !== null && this.runner === null && this.viewers.size === 0 && !this.disposed &&
      this.transcript.end === this.receivedEnd && this.transcript.error === null
  }

  get state(): TerminalState {
    return this.exitInfo !== null ? "exited" : this.runner !== null ? "live" : "reconnecting"
  }

  get exited(): { readonly code: number | null; readonly signal: string | null } | null {
    return this.exitInfo
  }

  get viewerCount(): number {
    return this.viewers.size
  }

  get end(): number {
    return this.receivedEnd
  }

  /** Hears every change of state, size, control or viewers (the relay service retires idle terminals). */
  onChange(listener: () => void): void {
    this.listeners.push(listener)
  }

  // -------------------------------------------------------------------------
  // Runner link

  attachRunner(socket: FrameSocket, hello: RunnerHello): void {
    if (this.disposed) {
      socket.close(1001, "the server is shutting down")
      return
    }
    const previous = this.runner
    this.runner = socket
    previous?.close(CLOSE_SUPERSEDED, "a newer runner link replaced this one")
    if (hello.cols !== this.size.cols || hello.rows !== this.size.rows) this.applySize(hello, false)
    this.ackedToRunner = 0
    this.runnerSentExit = false
    // The runner no longer holds what this server lacks (the terminal moved here from another
    // server instance, or the runner's buffer overflowed while the link was down): a gap, now,
    // so viewers resuming from the runner's position continue exactly.
    if (hello.from !== undefined && hello.from > this.receivedEnd) {
      this.recordGap(this.receivedEnd, hello.from)
      this.receivedEnd = hello.from
    }
    this.sendTo(socket, { _tag: "Resume", offset: this.receivedEnd })
    this.resendLostInput(socket, hello.inputEnd)
    for (const data of this.typeahead.splice(0)) this.sendInput(socket, data)
    this.typeaheadBytes = 0
    if (this.exitInfo !== null) this.acknowledgeRunner()
    this.changed()
  }

  runnerClosed(socket: FrameSocket): void {
    if (this.runner !== socket) return
    this.runner = null
    this.changed()
  }

  runnerFrame(socket: FrameSocket, frame: TerminalFrame, raw: Uint8Array): void {
    if (this.runner !== socket) return
    this.lastRunnerFrameAt = Date.now()
    switch (frame._tag) {
      case "Output":
        this.ingest(frame.offset, frame.data, raw)
        return
      case "Exit":
        this.runnerSentExit = true
        this.setExit(frame.code, frame.signal)
        this.acknowledgeRunner()
        return
      case "Metadata": {
        const size = sizeOf(frame.data)
        if (size !== null && (size.cols !== this.size.cols || size.rows !== this.size.rows)) this.applySize(size, false)
        return
      }
      case "Error":
        this.options.log?.(`runner error ${frame.code}: ${frame.message}`)
        return
      default:
        this.sendTo(socket, { _tag: "Error", code: CLOSE_PROTOCOL, message: `a runner does not send ${frame._tag} frames` })
        socket.close(CLOSE_PROTOCOL, "unexpected frame")
    }
  }

  /**
   * The session finished (its status says so). The runner's EXIT normally
   * follows its last output; without a runner link (the program never
   * started, the host is gone) nothing else will come, so the terminal ends
   * now. With one, the runner may still be delivering a backlog (a slow
   * server, many viewers): the terminal ends when its EXIT comes, or once the
   * link is gone or has been silent for `exitGraceMs`.
   */
  sessionFinished(code: number | null, exitGraceMs = 5000): void {
    if (this.exitInfo !== null || this.disposed) return
    if (this.runner === null) {
      this.setExit(code, null)
      return
    }
    const check = () => {
      if (this.disposed || this.exitInfo !== null) return
      const silent = Date.now() - this.lastRunnerFrameAt
      if (this.runner === null || silent >= exitGraceMs) this.setExit(code, null)
      else setTimeout(check, exitGraceMs - silent).unref()
    }
    setTimeout(check, exitGraceMs).unref()
  }

  private setExit(code: number | null, signal: string | null): void {
    if (this.exitInfo !== null) return
    this.exitInfo = { code, signal }
    this.broadcast({ _tag: "Exit", code, signal }, true)
    this.changed()
  }

  private ingest(offset: number, data: Uint8Array, raw: Uint8Array): void {
    const end = offset + data.length
    if (end <= this.receivedEnd) return // already have it (a retransmission)
    let forward: Uint8Array | null = raw
    if (offset < this.receivedEnd) {
      data = data.subarray(this.receivedEnd - offset)
      offset = this.receivedEnd
      forward = null
    } else if (offset > this.receivedEnd) {
      this.recordGap(this.receivedEnd, offset)
    }
    this.stats.bytesIn += data.length
    this.ring.appendWithin(data, this.ringBytes)
    this.receivedEnd = end
    if (this.viewers.size > 0) {
      const frame = forward ?? outputFrameOf(offset, [data])
      for (const viewer of this.viewers.values()) {
        if (viewer.phase !== "live") continue
        viewer.socket.send(frame)
        viewer.sentEnd = end
        this.checkStall(viewer)
      }
    }
    // After the viewers' sends, so their bytes leave before the disk write wakes a thread.
    this.transcript.append(data)
  }

  private recordGap(from: number, to: number): void {
    this.stats.gaps++
    this.options.log?.(`output lost between offsets ${from} and ${to}; viewers get a fresh snapshot`)
    this.ring.resetTo(to)
    this.transcript.gap(to)
    this.screen().resetAt(to)
    this.options.onGap?.(from, to)
    for (const viewer of this.viewers.values()) {
      if (viewer.phase === "live" || viewer.phase === "stalled") this.sendSnapshot(viewer)
    }
  }

  /** ACKs the runner what is on disk, unless the mirror has too much to parse (which slows the runner down). */
  private acknowledgeRunner(): void {
    const runner = this.runner
    if (runner === null) return
    if (this.mirror !== null && this.mirror.backlog > this.mirrorBacklogBytes) return
    const stored = this.transcript.end
    if (stored > this.ackedToRunner) {
      this.ackedToRunner = stored
      this.sendTo(runner, { _tag: "Ack", offset: stored })
    }
    // Closed once this link delivered EXIT and everything before it is stored: a runner that
    // reconnects after the session was marked finished still delivers the output it holds.
    if (this.runnerSentExit && stored >= this.receivedEnd) {
      this.runner = null
      runner.close(1000, "exit recorded")
      this.changed()
    }
  }

  // -------------------------------------------------------------------------
  // Viewers

  addViewer(socket: FrameSocket, identity: ViewerIdentity): Viewer {
    const viewer: Viewer = {
      ...identity,
      socket,
      phase: "awaiting_resume",
      sentEnd: 0,
      ackedEnd: 0,
      waitingForDisk: false,
      joinedAt: ++this.viewerSerial
    }
    this.viewers.set(viewer.id, viewer)
    this.changed()
    return viewer
  }

  removeViewer(viewer: Viewer): void {
    if (!this.viewers.delete(viewer.id)) return
    if (this.controller === viewer.id) this.controller = null
    this.changed()
  }

  viewerFrame(viewer: Viewer, frame: TerminalFrame): void {
    if (!this.viewers.has(viewer.id)) return
    if (viewer.phase === "awaiting_resume" && frame._tag !== "Resume") {
      this.refuse(viewer, "the first frame must be RESUME")
      return
    }
    switch (frame._tag) {
      case "Resume":
        this.resume(viewer, frame.offset)
        return
      case "Ack":
        this.viewerAck(viewer, frame.offset)
        return
      case "Input":
        this.input(viewer, frame.data)
        return
      case "Resize":
        if (!viewer.canWrite) return this.readOnly(viewer, "resize")
        if (this.controller !== viewer.id) return // only the controller's size counts
        this.scheduleResize({ cols: frame.cols, rows: frame.rows })
        return
      case "Control":
        if (frame.action === "take") return this.take(viewer)
        if (frame.action === "release") return this.release(viewer)
        return this.refuse(viewer, `viewers do not send CONTROL ${frame.action}`)
      default:
        this.refuse(viewer, `viewers do not send ${frame._tag} frames`)
    }
  }

  private refuse(viewer: Viewer, message: string): void {
    this.sendTo(viewer.socket, { _tag: "Error", code: CLOSE_PROTOCOL, message })
    viewer.socket.close(CLOSE_PROTOCOL, message.slice(0, 120))
    this.removeViewer(viewer)
  }

  private readOnly(viewer: Viewer, what: string): void {
    this.sendTo(viewer.socket, {
      _tag: "Error",
      code: ERROR_READ_ONLY,
      message: `read-only viewer: ${what} refused (a write-scope token may type)`
    })
  }

  private resume(viewer: Viewer, offset: number): void {
    this.sendMetadata(viewer)
    // Within the ring's reach: exactly the missing bytes (from disk if a released terminal's ring is empty).
    const inReach = this.ring.has(offset) || (offset >= this.receivedEnd - this.ringBytes && this.transcript.holds(offset))
    if (offset > 0 && offset <= this.receivedEnd && inReach) {
      viewer.sentEnd = offset
      viewer.ackedEnd = offset
      this.catchUp(viewer)
    } else {
      this.sendSnapshot(viewer)
    }
  }

  /** Sends a snapshot, then everything after it from the ring; the viewer is live afterwards. */
  private sendSnapshot(viewer: Viewer): void {
    viewer.phase = "syncing"
    this.stats.snapshots++
    const ready = (snapshot: MirrorSnapshot, source: ScreenMirror | null) => {
      if (!this.viewers.has(viewer.id) || viewer.phase !== "syncing") return
      // The mirror broke meanwhile (its snapshot is empty) and a rebuilt one replaced it: ask that one.
      if (source !== null && this.mirror !== null && this.mirror !== source) {
        this.sendSnapshot(viewer)
        return
      }
      if (!this.ring.has(snapshot.offset) && !this.transcript.holds(snapshot.offset)) {
        // The output after the snapshot point is neither in the ring nor on disk: take another.
        this.sendSnapshot(viewer)
        return
      }
      const frame = encode({ _tag: "Snapshot", offset: snapshot.offset, cols: snapshot.cols, rows: snapshot.rows, data: snapshot.data }) ??
        encode({ _tag: "Snapshot", offset: snapshot.offset, cols: snapshot.cols, rows: snapshot.rows, data: "" })
      if (frame !== null) viewer.socket.send(frame)
      viewer.sentEnd = snapshot.offset
      viewer.ackedEnd = snapshot.offset
      this.catchUp(viewer)
    }
    const final = this.finalScreen
    if (this.mirror === null && final !== null && final.offset === this.receivedEnd) {
      ready(final, null)
      return
    }
    const source = this.screen()
    source.snapshot(this.receivedEnd, (snapshot) => ready(snapshot, source), MAX_SNAPSHOT_TEXT_BYTES)
  }

  /**
   * Sends the viewer what it lacks from its `sentEnd`: everything, from the
   * ring, which makes it live; or, behind the ring, the next part from the
   * transcript; or, too far behind, a snapshot.
   */
  private catchUp(viewer: Viewer): void {
    const parts = this.ring.readFrom(viewer.sentEnd)
    if (parts === null) {
      if (!this.replay(viewer)) this.sendSnapshot(viewer)
      return
    }
    // The ring's views are copied into frames of up to MAX_OUTPUT_DATA_BYTES before anything else runs.
    let pieces: Array<Uint8Array> = []
    let piecesOffset = viewer.sentEnd
    let piecesBytes = 0
    for (const part of parts) {
      if (piecesBytes + part.data.length > MAX_OUTPUT_DATA_BYTES) {
        viewer.socket.send(outputFrameOf(piecesOffset, pieces))
        pieces = []
        piecesOffset = part.offset
        piecesBytes = 0
      }
      pieces.push(part.data)
      piecesBytes += part.data.length
    }
    if (piecesBytes > 0) viewer.socket.send(outputFrameOf(piecesOffset, pieces))
    viewer.sentEnd = this.receivedEnd
    viewer.phase = "live"
    if (this.exitInfo !== null) this.sendTo(viewer.socket, { _tag: "Exit", code: this.exitInfo.code, signal: this.exitInfo.signal })
    this.checkStall(viewer)
  }

  /**
   * Sends a viewer behind the ring the next queue's worth from the transcript
   * on disk; it stays stalled until its acknowledgements ask for more (then
   * `catchUp` again). Bytes that left the ring before the transcript wrote
   * them (a slow disk) are waited for: it continues once they are stored.
   * False when it is too far behind or the transcript does not have the
   * bytes and never will (they were lost before a gap).
   */
  private replay(viewer: Viewer): boolean {
    if (this.receivedEnd - viewer.sentEnd > this.replayBytes) return false
    let budget = this.viewerQueueBytes - (viewer.sentEnd - viewer.ackedEnd)
    let sent = false
    while (budget > 0 && !this.ring.has(viewer.sentEnd)) {
      const data = this.transcript.read(viewer.sentEnd, Math.min(budget, MAX_OUTPUT_DATA_BYTES))
      if (data === null) break
      viewer.socket.send(outputFrameOf(viewer.sentEnd, [data]))
      viewer.sentEnd += data.length
      budget -= data.length
      this.stats.replayed += data.length
      sent = true
    }
    if (budget > 0 && !this.ring.has(viewer.sentEnd) && this.transcript.writingAt(viewer.sentEnd)) {
      viewer.phase = "stalled"
      viewer.waitingForDisk = true
      return true
    }
    if (!sent && budget > 0) return false
    if (budget > 0 && this.ring.has(viewer.sentEnd)) {
      this.catchUp(viewer)
      return true
    }
    viewer.phase = "stalled"
    return true
  }

  private checkStall(viewer: Viewer): void {
    if (viewer.sentEnd - viewer.ackedEnd > this.viewerQueueBytes || viewer.socket.bufferedAmount() > this.viewerQueueBytes) {
      viewer.phase = "stalled"
      this.stats.stalls++
    }
  }

  private viewerAck(viewer: Viewer, offset: number): void {
    if (offset > viewer.sentEnd) return // acknowledging bytes it was never sent: ignore
    if (offset > viewer.ackedEnd) viewer.ackedEnd = offset
    if (
      viewer.phase === "stalled" && viewer.sentEnd - viewer.ackedEnd <= this.viewerQueueBytes / 2 &&
      viewer.socket.bufferedAmount() <= this.viewerQueueBytes / 2
    ) {
      this.catchUp(viewer)
    }
  }

  private input(viewer: Viewer, data: Uint8Array): void {
    if (!viewer.canWrite) return this.readOnly(viewer, "input")
    const runner = this.runner
    const passReplies = this.controller === null ? this.oldestWriter() === viewer.id : this.controller === viewer.id
    const kept = passReplies ? data : stripQueryReplies(data)
    if (kept.length === 0) return
    if (this.exitInfo !== null || (runner === null && this.typeaheadBytes + kept.length > TYPEAHEAD_BYTES)) {
      this.sendTo(viewer.socket, {
        _tag: "Error",
        code: ERROR_NOT_DELIVERED,
        message: this.exitInfo !== null ? "the program has exited; input not delivered" : "the host is reconnecting; input not delivered"
      })
      return
    }
    if (runner === null) {
      // Typeahead: delivered in order once the program's host is (back) on the link.
      this.typeahead.push(Uint8Array.from(kept))
      this.typeaheadBytes += kept.length
      return
    }
    this.sendInput(runner, Uint8Array.from(kept))
  }

  /** Writes INPUT to the runner link and keeps it, with its offset in the input stream, for a link that breaks before the runner reads it. */
  private sendInput(runner: FrameSocket, data: Uint8Array): void {
    const frame = encode({ _tag: "Input", data })
    if (frame === null) return
    runner.send(frame)
    this.sentInput.push({ offset: this.inputSentEnd, data, at: Date.now() })
    this.inputSentEnd += data.length
    this.sentInputBytes += data.length
    while (this.sentInputBytes - this.sentInput[0]!.data.length >= TYPEAHEAD_BYTES) this.forgetOldestInput()
    this.forgetOldInputLater()
  }

  /** Forgets kept keystrokes once they are `sentInputKeptMs` old. */
  private forgetOldInputLater(): void {
    if (this.sentInputTimer !== null || this.sentInput.length === 0) return
    const oldest = this.sentInput[0]!.at
    this.sentInputTimer = setTimeout(() => {
      this.sentInputTimer = null
      const cutoff = Date.now() - this.sentInputKeptMs
      while (this.sentInput.length > 0 && this.sentInput[0]!.at <= cutoff) this.forgetOldestInput()
      this.forgetOldInputLater()
    }, Math.max(0, oldest + this.sentInputKeptMs - Date.now()) + 10)
    this.sentInputTimer.unref()
  }

  private forgetOldestInput(): void {
    const forgotten = this.sentInput.shift()
    if (forgotten === undefined) return
    forgotten.data.fill(0)
    this.sentInputBytes -= forgotten.data.length
  }

  /**
   * A runner (re)attached and says how much INPUT it has received
   * (`inputEnd`): what was written to a link that broke before the runner
   * read it is written again, exactly once. A runner ahead of this server
   * (the server restarted, or the terminal moved here) sets the count. A
   * runner that does not say (an older one) gets nothing again.
   */
  private resendLostInput(socket: FrameSocket, inputEnd: number | undefined): void {
    if (inputEnd === undefined) return
    if (inputEnd >= this.inputSentEnd) {
      this.inputSentEnd = inputEnd
      while (this.sentInput.length > 0) this.forgetOldestInput()
      return
    }
    const lost = this.sentInput.flatMap(({ offset, data }) =>
      offset + data.length <= inputEnd ? [] : [offset >= inputEnd ? data : data.subarray(inputEnd - offset)]
    )
    const kept = this.sentInput[0]?.offset ?? this.inputSentEnd
    if (kept > inputEnd) this.options.log?.(`terminal ${this.sessionId}: ${kept - inputEnd} bytes of input sent to a broken runner link are too old to send again`)
    // Counted from what the runner has, so the next hello compares like with like.
    this.inputSentEnd = inputEnd
    this.sentInput = []
    this.sentInputBytes = 0
    for (const data of lost) this.sendInput(socket, data)
  }

  private oldestWriter(): string | null {
    let oldest: Viewer | null = null
    for (const viewer of this.viewers.values()) {
      if (viewer.canWrite && (oldest === null || viewer.joinedAt < oldest.joinedAt)) oldest = viewer
    }
    return oldest?.id ?? null
  }

  private take(viewer: Viewer): void {
    if (!viewer.canWrite) {
      this.sendTo(viewer.socket, { _tag: "Control", action: "denied", data: { reason: "read-only viewer" } })
      return
    }
    const previous = this.controller === null ? undefined : this.viewers.get(this.controller)
    this.controller = viewer.id
    if (previous !== undefined && previous.id !== viewer.id) {
      this.sendTo(previous.socket, { _tag: "Control", action: "revoked", data: { holder: viewer.name } })
    }
    this.sendTo(viewer.socket, { _tag: "Control", action: "granted", data: { holder: viewer.name } })
    this.changed()
  }

  private release(viewer: Viewer): void {
    if (this.controller !== viewer.id) return
    this.controller = null
    this.sendTo(viewer.socket, { _tag: "Control", action: "revoked", data: {} })
    this.changed()
  }

  /** The first resize after a quiet period applies at once; a burst then settles after the debounce. */
  private scheduleResize(size: TerminalSize): void {
    const now = Date.now()
    const quiet = now - this.lastResizeAt >= this.resizeDebounceMs && this.resizeTimer === null
    this.lastResizeAt = now
    if (quiet) {
      if (size.cols !== this.size.cols || size.rows !== this.size.rows) this.applySize(size, true)
      return
    }
    this.pendingSize = size
    if (this.resizeTimer !== null) clearTimeout(this.resizeTimer)
    this.resizeTimer = setTimeout(() => {
      this.resizeTimer = null
      const pending = this.pendingSize
      this.pendingSize = null
      if (pending !== null && (pending.cols !== this.size.cols || pending.rows !== this.size.rows)) this.applySize(pending, true)
    }, this.resizeDebounceMs)
  }

  /** The PTY's size changed (or must change): mirror, runner and viewers follow. */
  private applySize(size: TerminalSize, toRunner: boolean): void {
    this.size = size
    this.screen().resize(this.receivedEnd, size.cols, size.rows)
    if (toRunner && this.runner !== null) this.sendTo(this.runner, { _tag: "Resize", cols: size.cols, rows: size.rows })
    this.broadcast({ _tag: "Resize", cols: size.cols, rows: size.rows }, false)
    this.broadcastMetadata()
  }

  // -------------------------------------------------------------------------

  metadataFor(viewer: Viewer): JsonObject {
    const controller = this.controller === null ? undefined : this.viewers.get(this.controller)
    return {
      cols: this.size.cols,
      rows: this.size.rows,
      state: this.state,
      exitCode: this.exitInfo?.code ?? null,
      controller: controller === undefined ? null : { id: controller.id, name: controller.name },
      you: { id: viewer.id, canWrite: viewer.canWrite, controlling: this.controller === viewer.id },
      title: null
    }
  }

  private sendMetadata(viewer: Viewer): void {
    this.sendTo(viewer.socket, { _tag: "Metadata", data: this.metadataFor(viewer) })
  }

  private broadcastMetadata(): void {
    for (const viewer of this.viewers.values()) {
      if (viewer.phase !== "awaiting_resume") this.sendMetadata(viewer)
    }
  }

  /** Sends a frame to every viewer past its RESUME (`liveOnly`: only those in the live stream). */
  private broadcast(frame: TerminalFrame, liveOnly: boolean): void {
    const bytes = encode(frame)
    if (bytes === null) return
    for (const viewer of this.viewers.values()) {
      if (viewer.phase === "awaiting_resume") continue
      if (liveOnly && viewer.phase !== "live") continue
      viewer.socket.send(bytes)
    }
  }

  private sendTo(socket: FrameSocket, frame: TerminalFrame): void {
    const bytes = encode(frame)
    if (bytes !== null) socket.send(bytes)
  }

  /** Viewers hear the new state, control and size; the relay service hears that something changed. */
  private changed(): void {
    this.broadcastMetadata()
    for (const listener of this.listeners) listener()
    this.releaseIfIdle()
  }

  /** Closes every viewer's socket with `code` (the terminal stays). */
  closeViewers(code: number, reason: string): void {
    for (const viewer of [...this.viewers.values()]) {
      viewer.socket.close(code, reason)
      this.removeViewer(viewer)
    }
  }

  /** Closes every socket and releases the mirror and the transcript. */
  dispose(code = 1001, reason = "the server is shutting down"): void {
    if (this.disposed) return
    this.disposed = true
    if (this.resizeTimer !== null) clearTimeout(this.resizeTimer)
    if (this.sentInputTimer !== null) clearTimeout(this.sentInputTimer)
    this.sentInput = []
    for (const viewer of this.viewers.values()) viewer.socket.close(code, reason)
    this.viewers.clear()
    this.runner?.close(code, reason)
    this.runner = null
    this.mirror?.dispose()
    this.mirror = null
    this.ring.release()
    this.transcript.close()
  }
}

const sizeOf = (data: JsonObject): TerminalSize | null => {
  const { cols, rows } = data
  return typeof cols === "number" && typeof rows === "number" && Number.isInteger(cols) && Number.isInteger(rows) &&
      cols >= 1 && cols <= 1000 && rows >= 1 && rows <= 1000
    ? { cols, rows }
    : null
}

/**
 * The runner's hello: its PTY's size and, if it says, the offset of the
 * oldest byte it still holds and how many bytes of INPUT it has received
 * from servers for this terminal.
 */
export interface RunnerHello extends TerminalSize {
  readonly from?: number
  readonly inputEnd?: number
}

const offsetField = (value: unknown): number | null | undefined =>
  value === undefined ? undefined : typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : null

/** The runner's hello: METADATA with a valid `{cols, rows}` and optionally `from` and `inputEnd` (safe integers ≥ 0). */
export const runnerHello = (frame: TerminalFrame): RunnerHello | null => {
  if (frame._tag !== "Metadata") return null
  const size = sizeOf(frame.data)
  if (size === null) return null
  const from = offsetField(frame.data["from"])
  const inputEnd = offsetField(frame.data["inputEnd"])
  if (from === null || inputEnd === null) return null
  return { ...size, ...(from === undefined ? {} : { from }), ...(inputEnd === undefined ? {} : { inputEnd }) }
}

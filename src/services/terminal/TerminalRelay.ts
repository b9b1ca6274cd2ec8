/**
 * TerminalRelay: the server's terminals, one `RelayTerminal` per session
 * whose harness runs a PTY (it declares the `terminal` capability). A
 * terminal is loaded on first use (a runner link or a viewer), from its
 * transcript when the server restarted or the terminal had been retired.
 * An ended terminal with no viewers left keeps only its final screen (see
 * `RelayTerminal.releaseIfIdle`) for `TETHER_TERMINAL_RETAIN` (default 10
 * minutes), then is retired: a later viewer gets its screen rebuilt from the
 * transcript.
 *
 * Configuration: `TETHER_TERMINAL_RING` (bytes of recent output kept for
 * reconnecting viewers, default 4 MiB), `TETHER_TERMINAL_SCROLLBACK` (lines,
 * default 10 000), `TETHER_TERMINAL_VIEWER_QUEUE` (bytes a viewer may have
 * unacknowledged before it is stalled, default 2 MiB), `TETHER_TERMINAL_REPLAY`
 * (a stalled viewer within this many bytes of the live end continues from the
 * transcript on disk, further behind from a snapshot; default 64 MiB),
 * `TETHER_TERMINAL_RESIZE_DEBOUNCE` (default 300 millis),
 * `TETHER_TERMINAL_MIRROR` (`worker`, the default when running from the
 * bundle: screens are parsed in a worker thread; or `thread`). Transcripts live in
 * `$TETHER_HOME/terminals/`.
 */
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberMap from "effect/FiberMap"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import { SessionNotFound } from "../../domain/errors.js"
import { isFinished } from "../../domain/session-event.js"
import { TetherHome } from "../home/TetherHome.js"
import { HostRepo } from "../hosts/HostRepo.js"
import { SessionHub } from "../sessions/SessionHub.js"
import { SessionJournal } from "../sessions/SessionJournal.js"
import { SessionRepo } from "../sessions/SessionRepo.js"
import { MirrorWorkerPool, mirrorWorkerFile } from "./MirrorWorker.js"
import { BLOCK_BYTES, RingBlockPool } from "./OutputRing.js"
import { CLOSE_MOVED, RelayTerminal } from "./RelayTerminal.js"
import { TerminalHomes } from "./TerminalHomes.js"
import { Transcript } from "./Transcript.js"

/** The session exists but its harness does not run a terminal. */
export class NotATerminal extends Data.TaggedError("NotATerminal")<{ readonly sessionId: string; readonly harness: string }> {
  override get message(): string {
    return `session ${this.sessionId} runs the ${this.harness} harness, which has no terminal`
  }
}

const MiB = 1024 * 1024
/** How often terminals with viewers here but no runner link are checked for a home elsewhere. */
const MOVED_CHECK_INTERVAL = Duration.seconds(1)

export class TerminalRelay extends Effect.Service<TerminalRelay>()("tether/TerminalRelay", {
  scoped: Effect.gen(function*() {
    const home = yield* TetherHome
    const sessions = yield* SessionRepo
    const hosts = yield* HostRepo
    const journal = yield* SessionJournal
    const hub = yield* SessionHub
    const homes = yield* TerminalHomes
    const watchers = yield* FiberMap.make<string>()
    const ringBytes = yield* Config.integer("TETHER_TERMINAL_RING").pipe(
      Config.validate({ message: "TETHER_TERMINAL_RING must be at least 64 KiB", validation: (n) => n >= 64 * 1024 }),
      Config.withDefault(4 * MiB)
    )
    const scrollback = yield* Config.integer("TETHER_TERMINAL_SCROLLBACK").pipe(
      Config.validate({ message: "TETHER_TERMINAL_SCROLLBACK must be between 0 and 1000000", validation: (n) => n >= 0 && n <= 1_000_000 }),
      Config.withDefault(10_000)
    )
    const viewerQueueBytes = yield* Config.integer("TETHER_TERMINAL_VIEWER_QUEUE").pipe(
      Config.validate({ message: "TETHER_TERMINAL_VIEWER_QUEUE must be at least 64 KiB", validation: (n) => n >= 64 * 1024 }),
      Config.withDefault(2 * MiB)
    )
    const replayBytes = yield* Config.integer("TETHER_TERMINAL_REPLAY").pipe(
      Config.validate({ message: "TETHER_TERMINAL_REPLAY must be at least 0", validation: (n) => n >= 0 }),
      Config.withDefault(64 * MiB)
    )
    const resizeDebounce = yield* Config.duration("TETHER_TERMINAL_RESIZE_DEBOUNCE").pipe(Config.withDefault(Duration.millis(300)))
    const retain = yield* Config.duration("TETHER_TERMINAL_RETAIN").pipe(Config.withDefault(Duration.minutes(10)))
    const directory = home.path("terminals")
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)

    const mirrorMode = yield* Config.literal("worker", "thread")("TETHER_TERMINAL_MIRROR").pipe(Config.withDefault("worker"))
    const workerFile = mirrorWorkerFile()
    const pool = mirrorMode === "worker" && workerFile !== null
      ? yield* Effect.acquireRelease(
        Effect.sync(() => new MirrorWorkerPool(workerFile, (message) => runFork(Effect.logError(message)))),
        (p) => Effect.promise(() => p.close())
      )
      : null

    // Spare ring blocks shared by this server's terminals: about one ring's worth.
    const blockPool = new RingBlockPool(Math.ceil(ringBytes / BLOCK_BYTES))
    const terminals = new Map<string, RelayTerminal>()
    const retireTimers = new Map<string, NodeJS.Timeout>()

    const cancelRetire = (sessionId: string) => {
      const timer = retireTimers.get(sessionId)
      if (timer !== undefined) clearTimeout(timer)
      retireTimers.delete(sessionId)
    }

    /** An ended terminal nobody watches is retired after the retention time. */
    const reviewRetirement = (terminal: RelayTerminal) => {
      cancelRetire(terminal.sessionId)
      if (terminal.state !== "exited" || terminal.viewerCount > 0) return
      const timer = setTimeout(() => {
        retireTimers.delete(terminal.sessionId)
        if (terminal.state === "exited" && terminal.viewerCount === 0 && terminals.get(terminal.sessionId) === terminal) {
          terminals.delete(terminal.sessionId)
          terminal.dispose(1000, "terminal retired")
          runFork(FiberMap.remove(watchers, terminal.sessionId))
        }
      }, Duration.toMillis(retain))
      timer.unref()
      retireTimers.set(terminal.sessionId, timer)
    }

    const hasTerminal = (hostId: string, harness: string) =>
      Effect.map(hosts.get(hostId), (host) =>
        harness === "terminal" ||
        (Option.isSome(host) && host.value.harnesses.some((h) => h.name === harness && h.capabilities.includes("terminal"))))

    /** The relay of a session's terminal, loaded on first use. */
    const terminalFor = (sessionId: string): Effect.Effect<RelayTerminal, SessionNotFound | NotATerminal> =>
      Effect.gen(function*() {
        const loaded = terminals.get(sessionId)
        if (loaded !== undefined) return loaded
        const session = yield* sessions.get(sessionId)
        if (Option.isNone(session)) {
          return yield* new SessionNotFound({ error: `no session ${sessionId}`, sessionId })
        }
        if (!(yield* hasTerminal(session.value.hostId, session.value.harness))) {
          return yield* new NotATerminal({ sessionId, harness: session.value.harness })
        }
        const again = terminals.get(sessionId) // loaded meanwhile by another request
        if (again !== undefined) return again
        const finished = isFinished(session.value.status)
        const terminal = new RelayTerminal({
          sessionId,
          transcript: Transcript.open(directory, sessionId),
          initialSize: { cols: 80, rows: 24 },
          ringBytes,
          blockPool,
          scrollback,
          viewerQueueBytes,
          replayBytes,
          resizeDebounceMs: Duration.toMillis(resizeDebounce),
          ...(pool === null ? {} : { mirrorFactory: pool.factory }),
          exited: finished ? { code: session.value.exitCode, signal: null } : null,
          onGap: (from, to) =>
            runFork(
              journal.record(sessionId, [{
                type: "error",
                code: "terminal_gap",
                message: `terminal output between offsets ${from} and ${to} is not on this server: the host no longer held it (its buffer overflowed, or the terminal moved here from another server instance); viewers were resynced`
              }]).pipe(Effect.ignore)
            ),
          log: (message) => runFork(Effect.logWarning(`terminal ${sessionId}: ${message}`))
        })
        let live = false
        terminal.onChange(() => {
          reviewRetirement(terminal)
          // A runner link attached here: this instance holds the terminal now (several instances share the database).
          if (terminal.state === "live" && !live) runFork(homes.claim(sessionId))
          live = terminal.state === "live"
        })
        terminals.set(sessionId, terminal)
        if (!finished) {
          // The session's own status says when it ended (also when its program never started or its host was lost).
          const watch = hub.subscribe(sessionId, session.value.lastSeq).pipe(
            Stream.filter((record) => record.event.type === "status" && isFinished(record.event.status)),
            Stream.take(1),
            Stream.runForEach((record) =>
              Effect.sync(() => terminal.sessionFinished(record.event.type === "status" ? record.event.exitCode : null))),
            Effect.retry(Schedule.spaced("1 second"))
          )
          yield* FiberMap.run(watchers, sessionId, watch)
        }
        reviewRetirement(terminal)
        return terminal
      })

    /** Retires a session's terminal (the session was deleted) and removes its transcript. */
    const forget = (sessionId: string): Effect.Effect<void> =>
      Effect.zipRight(
        FiberMap.remove(watchers, sessionId),
        Effect.sync(() => {
          cancelRetire(sessionId)
          terminals.get(sessionId)?.dispose(4410, "the session was deleted")
          terminals.delete(sessionId)
          Transcript.remove(directory, sessionId)
        })
      )

    /**
     * Several instances: a terminal with viewers here but its runner link on
     * another instance (it moved there, or a viewer arrived here before the
     * link's instance had claimed it) is held there. Its viewers here are
     * closed with CLOSE_MOVED; they reconnect and are forwarded. One query per
     * such terminal per MOVED_CHECK_INTERVAL.
     */
    const sendAwayMovedViewers = Effect.suspend(() => Effect.forEach(
      [...terminals.values()].filter((t) => t.state === "reconnecting" && t.viewerCount > 0),
      (terminal) =>
        Effect.map(homes.homeOf(terminal.sessionId), (home) => {
          if (Option.isSome(home) && terminal.state === "reconnecting") {
            terminal.closeViewers(CLOSE_MOVED, "the terminal moved to another server instance; reconnect")
          }
        }),
      { discard: true }
    ))
    if (Option.isSome(homes.self)) {
      yield* Effect.forkScoped(Effect.repeat(sendAwayMovedViewers, Schedule.spaced(MOVED_CHECK_INTERVAL)))
    }

    /** Closes every terminal's sockets (1001: the server is shutting down) and lets the terminals go. */
    const closeAll = Effect.sync(() => {
      for (const timer of retireTimers.values()) clearTimeout(timer)
      retireTimers.clear()
      for (const terminal of terminals.values()) terminal.dispose()
      terminals.clear()
    })
    yield* Effect.addFinalizer(() => closeAll)

    return {
      terminalFor,
      forget,
      closeAll,
      /** Whether this instance holds the session's runner link now. */
      holdsRunnerLink: (sessionId: string): boolean => terminals.get(sessionId)?.state === "live",
      /** Loaded terminals (diagnostics and benchmarks). */
      loaded: (): ReadonlyArray<RelayTerminal> => [...terminals.values()]
    } as const
  })
}) {}

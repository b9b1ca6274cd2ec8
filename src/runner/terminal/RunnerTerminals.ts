/**
 * RunnerTerminals: opens the terminal relay link of a session (the
 * `TerminalChannelFactory` harnesses with the `terminal` capability use). The
 * link lives in the caller's scope. When the scope closes (the program
 * exited) the link keeps delivering what it holds: the scope waits for the
 * server to acknowledge the last output and the exit for as long as
 * acknowledgements keep coming (a busy server drains a full buffer at its own
 * pace), and gives up only after `TETHER_TERMINAL_FLUSH_TIMEOUT` without one
 * (the server is unreachable), saying how many bytes it drops.
 *
 * Configuration: `TETHER_TERMINAL_BUFFER` (bytes, default 16 MiB) is the
 * retransmit buffer per terminal; `TETHER_TERMINAL_FLUSH_TIMEOUT` (a
 * duration, default 10 seconds) how long an exited terminal's link waits
 * without an acknowledgement before it gives up.
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { TerminalChannelFactory, TerminalSize } from "../../services/terminal/TerminalChannel.js"
import { webSocketUrl } from "../../domain/server-url.js"
import { RUNNER_TERMINAL_ROUTE } from "../../domain/websocket-routes.js"
import { TunnelConfig } from "../TunnelConfig.js"
import { DEFAULT_RETRANSMIT_BYTES, TerminalLink } from "./TerminalLink.js"

/** `RUNNER_TERMINAL_ROUTE` without its parameter. */
export const TERMINAL_LINK_PATH = RUNNER_TERMINAL_ROUTE.path.replace(/\/:sessionId$/, "")

/** `http(s)://host[:port][/prefix]` → `ws(s)://host[:port][/prefix]/v1/runners/terminals/<id>`. */
export const terminalLinkUrl = (serverUrl: string, sessionId: string): string =>
  webSocketUrl(serverUrl, `${TERMINAL_LINK_PATH}/${encodeURIComponent(sessionId)}`)

/**
 * Completes (with the bytes still unacknowledged) once `link` has gone
 * `idleMs` without the server acknowledging anything; runs for as long as
 * acknowledgements keep coming.
 */
export const untilStalled = (link: Pick<TerminalLink, "acknowledged" | "pending">, idleMs: number) =>
  Effect.gen(function*() {
    let mark = link.acknowledged
    let since = yield* Clock.currentTimeMillis
    for (;;) {
      yield* Effect.sleep(Duration.millis(Math.min(250, idleMs)))
      const now = yield* Clock.currentTimeMillis
      if (link.acknowledged !== mark) {
        mark = link.acknowledged
        since = now
      } else if (now - since >= idleMs) {
        return link.pending
      }
    }
  })

export class RunnerTerminals extends Effect.Service<RunnerTerminals>()("tether/runner/RunnerTerminals", {
  effect: Effect.gen(function*() {
    const tunnel = yield* TunnelConfig
    const capacity = yield* Config.integer("TETHER_TERMINAL_BUFFER").pipe(
      Config.validate({ message: "TETHER_TERMINAL_BUFFER must be at least 1 MiB", validation: (n) => n >= 1024 * 1024 }),
      Config.withDefault(DEFAULT_RETRANSMIT_BYTES)
    )
    const flushTimeout = yield* Config.duration("TETHER_TERMINAL_FLUSH_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10)))

    const open: TerminalChannelFactory["open"] = (sessionId: string, initial: TerminalSize) =>
      Effect.acquireRelease(
        Effect.sync(() =>
          new TerminalLink({
            url: terminalLinkUrl(tunnel.serverUrl, sessionId),
            authorization: `Bearer ${Redacted.value(tunnel.token)}`,
            initial,
            capacity,
            log: (message) => Effect.runFork(Effect.logWarning(`${message} (session ${sessionId})`))
          })
        ),
        (link) =>
          // Interruptible: a release runs uninterruptibly, and the race's loser must be stoppable.
          Effect.interruptible(Effect.promise(() => link.whenFinished()).pipe(
            Effect.raceFirst(
              untilStalled(link, Duration.toMillis(flushTimeout)).pipe(
                Effect.tap((dropped) =>
                  Effect.logWarning(
                    `terminal link: no acknowledgement from the server for ${Duration.format(flushTimeout)}; ` +
                      `giving up with ${dropped} bytes of output undelivered (session ${sessionId})`
                  )
                )
              )
            )
          )).pipe(Effect.ensuring(Effect.sync(() => link.close())))
      )

    return { open } satisfies TerminalChannelFactory
  })
}) {}

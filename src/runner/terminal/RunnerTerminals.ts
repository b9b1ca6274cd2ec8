/**
 * RunnerTerminals: opens the terminal relay link of a session (the
 * `TerminalChannelFactory` harnesses with the `terminal` capability use). The
 * link lives in the caller's scope; when the scope closes it waits up to
 * `flushTimeout` for the server to acknowledge the last output and the exit,
 * then closes.
 *
 * Configuration: `TETHER_TERMINAL_BUFFER` (bytes, default 16 MiB) is the
 * retransmit buffer per terminal.
 */
import * as Config from "effect/Config"
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

export class RunnerTerminals extends Effect.Service<RunnerTerminals>()("tether/runner/RunnerTerminals", {
  effect: Effect.gen(function*() {
    const tunnel = yield* TunnelConfig
    const capacity = yield* Config.integer("TETHER_TERMINAL_BUFFER").pipe(
      Config.validate({ message: "TETHER_TERMINAL_BUFFER must be at least 1 MiB", validation: (n) => n >= 1024 * 1024 }),
      Config.withDefault(DEFAULT_RETRANSMIT_BYTES)
    )
    const flushTimeout = 2000

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
          Effect.promise(() =>
            Promise.race([link.whenFinished(), new Promise<void>((resolve) => setTimeout(resolve, flushTimeout).unref())])
          ).pipe(Effect.ensuring(Effect.sync(() => link.close())))
      )

    return { open } satisfies TerminalChannelFactory
  })
}) {}

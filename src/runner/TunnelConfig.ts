/** What the runner needs to reach its server: URL, token, host name and the tunnel's timings. */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"

export interface TunnelClientOptions {
  /** The server's base URL (`http(s)://host:port[/prefix]`); the tunnel path is appended. */
  readonly serverUrl: string
  readonly token: Redacted.Redacted<string>
  readonly hostName: string
  /** Default 10 s. */
  readonly heartbeatInterval?: Duration.DurationInput
  /** A heartbeat unanswered this long means the connection is lost. Default 10 s. */
  readonly heartbeatTimeout?: Duration.DurationInput
  /** Waiting for the WebSocket to open. Default 10 s. */
  readonly openTimeout?: Duration.DurationInput
  /** Between connection attempts. Default: jittered exponential from 0.5 s, capped at 5 s. */
  readonly reconnectSchedule?: Schedule.Schedule<unknown, unknown>
}

export class TunnelConfig extends Context.Tag("tether/runner/TunnelConfig")<TunnelConfig, TunnelClientOptions>() {}

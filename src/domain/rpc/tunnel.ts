/**
 * The runner tunnel: one WebSocket that `tether host` dials out to the
 * server (`/v1/runners/tunnel`), carrying an @effect/rpc protocol. The runner
 * is the RPC client; server → runner traffic is the `Connect` stream.
 *
 * - Auth: a write-scope access token in the upgrade's `Authorization` header
 *   (never in the URL), checked by the `RunnerAuth` middleware on every call.
 * - `Connect` carries the protocol version; a mismatch fails with
 *   `ProtocolMismatch`, which both sides print. The newest connection for a
 *   host wins: the older stream ends with `Superseded`.
 * - Commands carry a per-host `commandSeq`; the runner acknowledges each with
 *   `AckCommand` once it acted on it. Unacknowledged commands (including
 *   input queued while the host was offline) are sent again, in order, on
 *   the next `Connect`.
 * - `welcome` lists the unfinished sessions already started on this host,
 *   with the highest rseq the server stored for each. A runner that has the
 *   session trims its outbox to it; one that lost it (it restarted) resumes
 *   it if the harness can, or reports it failed.
 * - Events carry a per-session runner sequence `rseq`; `PushEvents` answers
 *   with the highest rseq the server has durably stored. After a reconnect
 *   the runner resends everything above that; the server ignores rseqs it
 *   already has, so nothing is lost or duplicated.
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import { Forbidden, Unauthorized } from "../errors.js"
import { HarnessInfo, HostName } from "../host.js"
import { ApprovalDecision, SessionEvent } from "../session-event.js"
import { TerminalSize } from "../session.js"

export const TUNNEL_PROTOCOL_VERSION = 1
export const TUNNEL_PATH = "/v1/runners/tunnel"

const commandBase = {
  commandSeq: Schema.Int.pipe(Schema.positive()),
  sessionId: Schema.String
}

export const RunnerCommand = Schema.Union(
  Schema.Struct({
    type: Schema.Literal("start_session"),
    ...commandBase,
    harness: Schema.String,
    cwd: Schema.String,
    args: Schema.Array(Schema.String),
    prompt: Schema.NullOr(Schema.String),
    /** The PTY's starting size, for harnesses that run a terminal. */
    size: Schema.optional(TerminalSize),
    /** Events of the session the runner already sent (its rseq continues after this). */
    lastRseq: Schema.Int
  }),
  Schema.Struct({ type: Schema.Literal("send_input"), ...commandBase, text: Schema.String }),
  Schema.Struct({ type: Schema.Literal("interrupt"), ...commandBase }),
  Schema.Struct({ type: Schema.Literal("stop"), ...commandBase }),
  Schema.Struct({
    type: Schema.Literal("resolve_approval"),
    ...commandBase,
    requestId: Schema.String,
    decision: ApprovalDecision,
    note: Schema.NullOr(Schema.String)
  })
)
export type RunnerCommand = typeof RunnerCommand.Type

/** A session the server expects the host to be running. */
export const ExpectedSession = Schema.Struct({
  sessionId: Schema.String,
  harness: Schema.String,
  cwd: Schema.String,
  args: Schema.Array(Schema.String),
  lastRseq: Schema.Int,
  /** The agent's conversation id (the session's last `agent_session` event), for harnesses that resume. */
  resumeId: Schema.optional(Schema.NullOr(Schema.String))
})
export type ExpectedSession = typeof ExpectedSession.Type

export class ProtocolMismatch extends Schema.TaggedError<ProtocolMismatch>()("ProtocolMismatch", {
  error: Schema.String,
  serverProtocol: Schema.Int,
  runnerProtocol: Schema.Int
}) {}

export class Superseded extends Schema.TaggedError<Superseded>()("Superseded", {
  error: Schema.String
}) {}

export class NotConnected extends Schema.TaggedError<NotConnected>()("NotConnected", {
  error: Schema.String
}) {}

export class UnknownSession extends Schema.TaggedError<UnknownSession>()("UnknownSession", {
  error: Schema.String,
  sessionId: Schema.String
}) {}

/** The host the tunnel's token belongs to is provided to every handler. */
export class RunnerPrincipal extends Context.Tag("tether/RunnerPrincipal")<RunnerPrincipal, {
  readonly tokenId: string
  readonly tokenName: string
}>() {}

export class RunnerAuth extends RpcMiddleware.Tag<RunnerAuth>()("tether/RunnerAuth", {
  provides: RunnerPrincipal,
  failure: Schema.Union(Unauthorized, Forbidden),
  requiredForClient: true
}) {}

export const EventBatch = Schema.Array(Schema.Struct({ rseq: Schema.Int.pipe(Schema.positive()), event: SessionEvent })).pipe(
  Schema.maxItems(1000)
)

export class TunnelRpcs extends RpcGroup.make(
  Rpc.make("Connect", {
    payload: {
      protocolVersion: Schema.Int,
      hostName: HostName,
      runnerVersion: Schema.String,
      harnesses: Schema.Array(HarnessInfo)
    },
    success: Schema.Union(
      Schema.Struct({
        type: Schema.Literal("welcome"),
        hostId: Schema.String,
        serverVersion: Schema.String,
        sessions: Schema.Array(ExpectedSession)
      }),
      RunnerCommand
    ),
    error: Schema.Union(ProtocolMismatch, Superseded),
    stream: true
  }),
  Rpc.make("AckCommand", {
    payload: { commandSeq: Schema.Int.pipe(Schema.positive()) },
    error: NotConnected
  }),
  Rpc.make("PushEvents", {
    payload: { sessionId: Schema.String, events: EventBatch },
    success: Schema.Struct({ ackedThrough: Schema.Int }),
    error: Schema.Union(NotConnected, UnknownSession)
  }),
  Rpc.make("Heartbeat", {
    payload: { sentAt: Schema.Number },
    success: Schema.Struct({ sentAt: Schema.Number, serverAt: Schema.Number }),
    error: NotConnected
  })
).middleware(RunnerAuth) {}

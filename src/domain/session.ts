/** Sessions as clients see them, and what clients may send to one. */
import * as Schema from "effect/Schema"
import { HarnessName } from "./host.js"
import { ApprovalDecision, ApprovalRequestEvent, SessionStatus } from "./session-event.js"

export const SessionTitle = Schema.String.pipe(Schema.trimmed(), Schema.maxLength(200))

export const PendingApproval = Schema.Struct({
  ...ApprovalRequestEvent.fields,
  /** The seq of the approval_request event. */
  seq: Schema.Int
})

export const QueuedInputKind = Schema.Literal("start", "message", "interrupt", "stop", "approval")

/** Input accepted by the server but not yet delivered to the (offline) host. */
export const QueuedInput = Schema.Struct({
  id: Schema.String,
  kind: QueuedInputKind,
  text: Schema.NullOr(Schema.String),
  queuedAt: Schema.DateTimeUtc
})

export class Session extends Schema.Class<Session>("Session")({
  id: Schema.String,
  title: Schema.NullOr(Schema.String),
  harness: Schema.String,
  hostId: Schema.String,
  hostName: Schema.String,
  hostOnline: Schema.Boolean,
  cwd: Schema.String,
  args: Schema.Array(Schema.String),
  status: SessionStatus,
  statusReason: Schema.NullOr(Schema.String),
  exitCode: Schema.NullOr(Schema.Int),
  archived: Schema.Boolean,
  createdAt: Schema.DateTimeUtc,
  updatedAt: Schema.DateTimeUtc,
  /** The seq of the newest event (0 when none). */
  lastSeq: Schema.Int,
  forkedFrom: Schema.NullOr(Schema.Struct({ sessionId: Schema.String, upToSeq: Schema.Int })),
  pendingApprovals: Schema.Array(PendingApproval),
  queuedInputs: Schema.Array(QueuedInput)
}) {}

/** A terminal's size in character cells. */
export const TerminalSize = Schema.Struct({
  cols: Schema.Int.pipe(Schema.between(1, 1000)),
  rows: Schema.Int.pipe(Schema.between(1, 1000))
})

export class CreateSessionRequest extends Schema.Class<CreateSessionRequest>("CreateSessionRequest")({
  harness: HarnessName,
  /** A host id or name; omitted: the only online host. */
  hostId: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(100))),
  cwd: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096)),
  title: Schema.optional(SessionTitle),
  prompt: Schema.optional(Schema.String.pipe(Schema.maxLength(1_000_000))),
  args: Schema.optionalWith(Schema.Array(Schema.String.pipe(Schema.maxLength(65_536))).pipe(Schema.maxItems(1000)), {
    default: () => []
  }),
  /** Terminal harnesses: the size the PTY starts with (default 80 × 24; a controller can change it). */
  size: Schema.optional(TerminalSize)
}) {}

export class UpdateSessionRequest extends Schema.Class<UpdateSessionRequest>("UpdateSessionRequest")({
  title: Schema.optional(Schema.NullOr(SessionTitle)),
  archived: Schema.optional(Schema.Boolean)
}) {}

export const SessionInput = Schema.Union(
  Schema.Struct({ type: Schema.Literal("message"), text: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1_000_000)) }),
  Schema.Struct({ type: Schema.Literal("interrupt") }),
  Schema.Struct({ type: Schema.Literal("stop") }),
  Schema.Struct({
    type: Schema.Literal("approval"),
    requestId: Schema.String.pipe(Schema.minLength(1)),
    decision: ApprovalDecision,
    note: Schema.optional(Schema.String.pipe(Schema.maxLength(10_000)))
  })
)
export type SessionInput = typeof SessionInput.Type

export class InputAccepted extends Schema.Class<InputAccepted>("InputAccepted")({
  /** Delivered to the host now, or queued until it returns. */
  delivery: Schema.Literal("sent", "queued"),
  inputId: Schema.String
}) {}

export class ForkRequest extends Schema.Class<ForkRequest>("ForkRequest")({
  upToSeq: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
}) {}

export const SessionListQuery = Schema.Struct({
  status: Schema.optional(SessionStatus),
  host: Schema.optional(Schema.String),
  harness: Schema.optional(Schema.String),
  archived: Schema.optional(Schema.BooleanFromString),
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 200))),
  cursor: Schema.optional(Schema.String)
})
export type SessionListQuery = typeof SessionListQuery.Type

export class SessionPage extends Schema.Class<SessionPage>("SessionPage")({
  sessions: Schema.Array(Session),
  nextCursor: Schema.NullOr(Schema.String)
}) {}

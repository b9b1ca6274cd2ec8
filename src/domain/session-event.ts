/**
 * The event vocabulary of a session. Every event is persisted (append-only,
 * `seq` per session, starting at 1) before it is fanned out to clients, so a
 * client that resumes after `seq` N gets exactly the events after N.
 * Harnesses normalise whatever their agent emits into these.
 */
import * as Schema from "effect/Schema"

export const SessionStatus = Schema.Literal("idle", "running", "waiting_approval", "waiting_host", "exited", "failed")
export type SessionStatus = typeof SessionStatus.Type

/** Statuses after which a session runs nothing more. */
export const isFinished = (status: SessionStatus): boolean => status === "exited" || status === "failed"

export const ApprovalDecision = Schema.Literal("allow", "allow_session", "deny")
export type ApprovalDecision = typeof ApprovalDecision.Type

export const StatusEvent = Schema.Struct({
  type: Schema.Literal("status"),
  status: SessionStatus,
  /** Why: `host_lost`, `stopped`, `harness_error: …`, `exit_code` … */
  reason: Schema.NullOr(Schema.String),
  exitCode: Schema.NullOr(Schema.Int)
})

export const MessageDeltaEvent = Schema.Struct({
  type: Schema.Literal("message_delta"),
  messageId: Schema.String,
  text: Schema.String
})

export const MessageRole = Schema.Literal("user", "assistant", "system")

export const MessageEvent = Schema.Struct({
  type: Schema.Literal("message"),
  messageId: Schema.String,
  role: MessageRole,
  text: Schema.String
})

export const ToolCallEvent = Schema.Struct({
  type: Schema.Literal("tool_call"),
  callId: Schema.String,
  name: Schema.String,
  input: Schema.Unknown
})

export const ToolResultEvent = Schema.Struct({
  type: Schema.Literal("tool_result"),
  callId: Schema.String,
  output: Schema.Unknown,
  isError: Schema.Boolean
})

export const ApprovalRequestEvent = Schema.Struct({
  type: Schema.Literal("approval_request"),
  requestId: Schema.String,
  tool: Schema.String,
  input: Schema.Unknown,
  description: Schema.NullOr(Schema.String)
})

export const ApprovalResolvedEvent = Schema.Struct({
  type: Schema.Literal("approval_resolved"),
  requestId: Schema.String,
  decision: ApprovalDecision,
  note: Schema.NullOr(Schema.String),
  /** Who decided: a token's name and prefix. */
  by: Schema.NullOr(Schema.String)
})

export const UsageEvent = Schema.Struct({
  type: Schema.Literal("usage"),
  inputTokens: Schema.NonNegativeInt,
  outputTokens: Schema.NonNegativeInt,
  cacheReadTokens: Schema.NullOr(Schema.NonNegativeInt),
  cacheWriteTokens: Schema.NullOr(Schema.NonNegativeInt),
  costUsd: Schema.NullOr(Schema.NonNegative)
})

export const ErrorEvent = Schema.Struct({
  type: Schema.Literal("error"),
  message: Schema.String,
  code: Schema.NullOr(Schema.String)
})

/**
 * The agent's own id for the conversation (a Claude session id, a Codex
 * thread id …), emitted by harnesses with the `resume` capability whenever it
 * becomes known or changes: a restarted runner resumes the conversation with it.
 */
export const AgentSessionEvent = Schema.Struct({
  type: Schema.Literal("agent_session"),
  agentSessionId: Schema.String
})

export const SessionEvent = Schema.Union(
  StatusEvent,
  MessageDeltaEvent,
  MessageEvent,
  ToolCallEvent,
  ToolResultEvent,
  ApprovalRequestEvent,
  ApprovalResolvedEvent,
  UsageEvent,
  ErrorEvent,
  AgentSessionEvent
)
export type SessionEvent = typeof SessionEvent.Type
export type SessionEventType = SessionEvent["type"]

/** An event as stored and streamed: its place in the session and when the server accepted it. */
export class SessionEventRecord extends Schema.Class<SessionEventRecord>("SessionEventRecord")({
  sessionId: Schema.String,
  seq: Schema.Int.pipe(Schema.positive()),
  at: Schema.DateTimeUtc,
  event: SessionEvent
}) {}

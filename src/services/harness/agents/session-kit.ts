/**
 * What every agent-SDK harness needs around its SDK: ids for the messages it
 * emits, the session's status (`running` while a turn runs, `waiting_approval`
 * while an approval is pending, `idle` between turns; repeated statuses are
 * not re-emitted), the approval broker, and the finish line (exactly one
 * finishing status, after which `exited` completes).
 *
 * Approvals: `request` emits `approval_request` (a fresh `requestId`) and
 * waits for `resolve`. `allow_session` answers allow and remembers the key
 * (the tool name unless the harness gives a finer one): later requests with
 * that key are allowed without asking. `deny` carries the client's note back
 * to the harness, which tells the model. `cancelAll` denies everything still
 * pending (interrupt, stop). The `approval_resolved` event itself is recorded
 * by the server when it accepts the decision, not here.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { randomUUID } from "node:crypto"
import type { ApprovalDecision, SessionEvent, SessionStatus } from "../../../domain/session-event.js"
import { type ExitInfo, HarnessError } from "../Harness.js"

export interface ApprovalAnswer {
  readonly allowed: boolean
  /** The client's note (for a deny: what the model is told). */
  readonly note: string | null
  /** The client's decision when a client answered (absent for cancellations and remembered allows). */
  readonly decision?: ApprovalDecision
}

interface PendingApproval {
  readonly key: string
  readonly answer: Deferred.Deferred<ApprovalAnswer>
}

export interface SessionKit {
  readonly harness: string
  readonly emit: (event: SessionEvent) => Effect.Effect<void>
  /** A message id unique in the session. */
  readonly nextId: (prefix: string) => string
  /** Emits a status unless it is already the current one (finishing statuses go through `finish`). */
  readonly setStatus: (status: "running" | "idle" | "waiting_approval", reason?: string | null) => Effect.Effect<void>
  readonly approvals: {
    readonly request: (tool: string, input: unknown, description: string | null, key?: string) => Effect.Effect<ApprovalAnswer>
    readonly resolve: (requestId: string, decision: ApprovalDecision, note: string | null) => Effect.Effect<void, HarnessError>
    readonly cancelAll: (note: string) => Effect.Effect<void>
    readonly pending: () => number
  }
  /** Emits the finishing status once (later calls do nothing) and completes `exited`. */
  readonly finish: (status: "exited" | "failed", reason: string, exitCode: number | null) => Effect.Effect<void>
  readonly isFinished: () => boolean
  readonly exited: Effect.Effect<ExitInfo>
  /** Fails with a clear reason when the session has finished (for `send`). */
  readonly ensureOpen: Effect.Effect<void, HarnessError>
}

export const makeSessionKit = (harness: string, emitEvent: (event: SessionEvent) => Effect.Effect<void>): Effect.Effect<SessionKit> =>
  Effect.gen(function*() {
    const exited = yield* Deferred.make<ExitInfo>()
    const nonce = randomUUID().slice(0, 8)
    let counter = 0
    let status: SessionStatus | null = null
    let finished = false
    const pending = new Map<string, PendingApproval>()
    const allowedForSession = new Set<string>()

    const nextId = (prefix: string) => `${prefix}_${nonce}_${++counter}`

    const setStatus = (next: "running" | "idle" | "waiting_approval", reason: string | null = null): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (finished || status === next) return Effect.void
        status = next
        return emitEvent({ type: "status", status: next, reason, exitCode: null })
      })

    const request = (tool: string, input: unknown, description: string | null, key: string = tool): Effect.Effect<ApprovalAnswer> =>
      Effect.gen(function*() {
        if (allowedForSession.has(key)) return { allowed: true, note: null }
        if (finished) return { allowed: false, note: "the session is stopping" }
        const requestId = nextId("apr")
        const answer = yield* Deferred.make<ApprovalAnswer>()
        pending.set(requestId, { key, answer })
        yield* emitEvent({ type: "approval_request", requestId, tool, input, description })
        yield* setStatus("waiting_approval")
        const result = yield* Deferred.await(answer).pipe(
          Effect.ensuring(Effect.sync(() => pending.delete(requestId)))
        )
        if (pending.size === 0) yield* setStatus("running")
        return result
      })

    const resolve = (requestId: string, decision: ApprovalDecision, note: string | null): Effect.Effect<void, HarnessError> =>
      Effect.suspend(() => {
        const entry = pending.get(requestId)
        if (entry === undefined) {
          return Effect.fail(new HarnessError({ harness, reason: `no approval ${requestId} is pending in this session` }))
        }
        if (decision === "allow_session") allowedForSession.add(entry.key)
        return Deferred.succeed(entry.answer, { allowed: decision !== "deny", note, decision })
      })

    /** Lazy: the approvals pending when it runs (an `interrupt` effect is built once and run later). */
    const cancelAll = (note: string): Effect.Effect<void> =>
      Effect.suspend(() =>
        Effect.forEach([...pending.values()], (entry) => Deferred.succeed(entry.answer, { allowed: false, note }), { discard: true })
      )

    const finish = (finalStatus: "exited" | "failed", reason: string, exitCode: number | null): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (finished) return Effect.void
        finished = true
        return cancelAll("the session ended").pipe(
          Effect.zipRight(emitEvent({ type: "status", status: finalStatus, reason, exitCode })),
          Effect.zipRight(Deferred.succeed(exited, { exitCode })),
          Effect.asVoid
        )
      })

    const kit: SessionKit = {
      harness,
      emit: emitEvent,
      nextId,
      setStatus,
      approvals: { request, resolve, cancelAll, pending: () => pending.size },
      finish,
      isFinished: () => finished,
      exited: Deferred.await(exited),
      ensureOpen: Effect.suspend(() =>
        finished ? Effect.fail(new HarnessError({ harness, reason: "the session has ended; the input was not delivered" })) : Effect.void
      )
    }
    return kit
  })

/** A short, human description of an unknown failure (SDK errors are usually `Error`s). */
export const describeError = (error: unknown): string => {
  if (error instanceof Error) return error.message.split("\n")[0] ?? error.name
  return String(error)
}

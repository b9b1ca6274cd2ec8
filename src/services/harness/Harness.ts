/**
 * What a harness is: an adapter that runs one kind of agent (a plain command,
 * an agent SDK, a terminal …) for a session on this host and normalises what
 * it does into `SessionEvent`s.
 *
 * Events flow out through the `emit` callback given to `start`, not a
 * returned Stream: `emit` waits while the runner's outbox for the session is
 * full, so a harness that awaits it is backpressured all the way to its agent
 * (the shell harness stops reading the process's stdout), and events are
 * recorded in exactly the order the harness emitted them.
 *
 * Contract for implementations (one file each, listed in HarnessRegistry):
 * - `start` fails with `HarnessError` only when nothing was started (bad
 *   arguments, missing working directory, the command cannot be spawned); the
 *   caller then reports `status failed` with reason `harness_error: <reason>`.
 * - Once `start` succeeded, the harness reports the session's life itself:
 *   `status running` first, then at the end exactly one finishing status
 *   (`exited` with its exit code, or `failed`), after every other event.
 * - The session's resources live in the Scope `start` runs in: closing it
 *   stops whatever the harness started (processes, sockets) and waits for it.
 *
 * Surviving a runner crash (optional): a harness whose session can outlive
 * the runner process keeps its files in `spec.stateDir` (the session's
 * durable directory, when the runner has one), records its read positions
 * as checkpoints (`emit(event, checkpoint)` / `emitAll`, stored in the same
 * journal record as the event), and implements `reattach`: a restarted
 * runner calls it instead of `start` with the last checkpoint recorded, and
 * the harness continues exactly after the last recorded event (no `status
 * running` again). `reattach` fails with `HarnessError` when nothing is left
 * to attach to; the runner then reports the session `failed
 * (runner_restarted: …)`. `abandon` stops what a previous runner left
 * running for a session the server no longer wants.
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { HarnessCapability } from "../../domain/host.js"
import type { ApprovalDecision, SessionEvent } from "../../domain/session-event.js"
import type { TerminalChannelFactory } from "../terminal/TerminalChannel.js"

/** A harness could not do what was asked; `reason` is one human sentence. */
export class HarnessError extends Data.TaggedError("HarnessError")<{
  readonly harness: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.harness}: ${this.reason}`
  }
}

export interface HarnessReadiness {
  /** Whether the harness can start sessions on this host now. */
  readonly ready: boolean
  /** Why it is not ready, or what it will use (a CLI's path, a base URL …). */
  readonly detail: string | null
}

export interface HarnessStartSpec {
  readonly sessionId: string
  /** Absolute working directory on this host. */
  readonly cwd: string
  /** Harness-specific arguments (for `shell`: the command and its arguments). */
  readonly args: ReadonlyArray<string>
  /** The first user message, or null to start without one. */
  readonly prompt: string | null
  /**
   * Records one event of the session; waits while the session's outbox is
   * full. `checkpoint` (JSON) is the harness's position after the event,
   * handed back to `reattach` after a runner restart.
   */
  readonly emit: (event: SessionEvent, checkpoint?: unknown) => Effect.Effect<void>
  /** Records several events in order with one durable write (at most one fsync). */
  readonly emitAll?: (items: ReadonlyArray<{ readonly event: SessionEvent; readonly checkpoint?: unknown }>) => Effect.Effect<void>
  /**
   * The session's own directory that survives the runner process (0700,
   * removed once the server stored the finishing status), or null/absent when
   * the runner keeps no durable state.
   */
  readonly stateDir?: string | null
  /**
   * The agent's conversation id to resume (the last `agent_session` event's
   * id) when a restarted runner adopts the session; harnesses with the
   * `resume` capability continue that conversation on the next message.
   */
  readonly resumeId?: string | null
  /** The size a PTY starts with, when the client gave one. */
  readonly size?: { readonly cols: number; readonly rows: number } | undefined
  /** Relays a PTY to the server (harnesses with the `terminal` capability use it). */
  readonly terminal: TerminalChannelFactory
}

export interface ExitInfo {
  /** The process's exit code, or null when it was killed by a signal or never ran. */
  readonly exitCode: number | null
}

/** A started session. Every method is safe to call after the session finished. */
export interface RunningSession {
  /** Delivers one user message. Fails when the session can no longer take input. */
  readonly send: (text: string) => Effect.Effect<void, HarnessError>
  /** Interrupts the current turn (the agent keeps running). */
  readonly interrupt: Effect.Effect<void, HarnessError>
  /** Ends the session and waits until everything it started is gone. Idempotent. */
  readonly stop: Effect.Effect<void>
  /** Answers an `approval_request`; harnesses without the `approvals` capability fail. */
  readonly resolveApproval: (
    requestId: string,
    decision: ApprovalDecision,
    note: string | null
  ) => Effect.Effect<void, HarnessError>
  /** Completes once the session finished (its finishing status was emitted). */
  readonly exited: Effect.Effect<ExitInfo>
}

/** What a restarted runner knows about a session it re-attaches to. */
export interface RecoveredHarnessState {
  /** The checkpoint recorded with the session's last journaled event (null: none yet). */
  readonly checkpoint: unknown
}

export interface Harness {
  /** The name clients ask for (`HarnessName`: lower-case, digits, dashes). */
  readonly name: string
  readonly capabilities: ReadonlyArray<HarnessCapability>
  /** Checked when the runner connects and before each start. */
  readonly readiness: Effect.Effect<HarnessReadiness>
  readonly start: (spec: HarnessStartSpec) => Effect.Effect<RunningSession, HarnessError, Scope.Scope>
  /**
   * Continues a session a previous runner process started (see the module
   * comment); `spec.stateDir` is set. Optional: harnesses without it are
   * resumed (`resume` capability) or reported failed after a restart.
   */
  readonly reattach?: (spec: HarnessStartSpec, recovered: RecoveredHarnessState) => Effect.Effect<RunningSession, HarnessError, Scope.Scope>
  /**
   * Stops whatever a previous runner process left running for a session in
   * `stateDir` that the server no longer wants (it finished meanwhile, e.g.
   * `host_lost`). Optional; a directory that is not this harness's is left alone.
   */
  readonly abandon?: (stateDir: string) => Effect.Effect<void>
}

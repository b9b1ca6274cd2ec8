/**
 * The sessions running on this host: sessionId → harness session. Turns the
 * server's commands into harness calls and reports what cannot be done as
 * events of the session.
 *
 * - `start_session` for a session this runner already has only trims the
 *   outbox to the server's `lastRseq` (a redelivered command never starts a
 *   second copy). For a new session the outbox continues after `lastRseq`;
 *   an unknown harness, a harness that is not ready, or a start that fails
 *   is reported as `status failed` with reason `harness_error: …`.
 * - `send_input` / `interrupt` / `resolve_approval` that the harness rejects
 *   (the process has exited, no approvals …) are reported as an `error`
 *   event with code `input_rejected`. Commands for sessions this runner does
 *   not know (the server must send `start_session` first) are logged and
 *   ignored: without the server's `lastRseq` nothing can be emitted for them.
 * - `stop` returns at once; the harness's grace period runs in the background.
 * - The runner does not emit user messages for input: the server, which
 *   accepted the input, records those.
 *
 * Nothing here waits on a full outbox: events the manager itself emits are
 * recorded in the background, so the tunnel's command loop never blocks.
 * When the manager's scope closes (runner shutdown) every session is stopped:
 * its processes are terminated (SIGTERM, then SIGKILL after the grace period).
 *
 * After a crash: sessions the welcome lists that this process does not have
 * are re-attached when the durable outbox restored them and their harness has
 * `reattach` (the harness continues from the last recorded checkpoint; a
 * session whose finishing status was already recorded is only resent),
 * resumed when the harness has `resume`, and otherwise reported `failed
 * (runner_restarted: …)`. A redelivered `start_session` of a restored
 * session re-attaches the same way instead of starting a second copy.
 */
import type { ExpectedSession } from "../domain/rpc/tunnel.js"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { RunnerCommand } from "../domain/rpc/tunnel.js"
import type { SessionEvent } from "../domain/session-event.js"
import type { HarnessStartSpec, RunningSession } from "../services/harness/Harness.js"
import { HarnessRegistry } from "../services/harness/HarnessRegistry.js"
import { EventOutbox, type RecoveredSession } from "./EventOutbox.js"
import { RunnerTerminals } from "./terminal/RunnerTerminals.js"

export type StartSessionCommand = Extract<RunnerCommand, { readonly type: "start_session" }>

export type SessionState = "starting" | "running" | "finished"

export interface SessionSummary {
  readonly sessionId: string
  readonly harness: string
  readonly state: SessionState
}

interface Entry {
  readonly sessionId: string
  readonly harness: string
  state: SessionState
  running: RunningSession | null
  scope: Scope.CloseableScope | null
}

export class SessionManager extends Effect.Service<SessionManager>()("tether/runner/SessionManager", {
  scoped: Effect.gen(function*() {
    const registry = yield* HarnessRegistry
    const outbox = yield* EventOutbox
    const terminals = yield* RunnerTerminals
    const managerScope = yield* Effect.scope
    const sessions = new Map<string, Entry>()

    /** Records an event without waiting for room in the outbox. */
    const emitLater = (sessionId: string, event: SessionEvent): Effect.Effect<void> =>
      Effect.asVoid(Effect.forkIn(outbox.emit(sessionId, event), managerScope))

    const failSession = (entry: Entry, reason: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        entry.state = "finished"
        return emitLater(entry.sessionId, { type: "status", status: "failed", reason, exitCode: null })
      })

    const closeSession = (entry: Entry): Effect.Effect<void> =>
      Effect.suspend(() => {
        const scope = entry.scope
        entry.scope = null
        return scope === null ? Effect.void : Scope.close(scope, Exit.void)
      })

    /** `resumeId`: the agent's conversation to continue (a session adopted after a runner restart). */
    const start = (command: StartSessionCommand, resumeId: string | null = null): Effect.Effect<void> =>
      Effect.suspend(() =>
        sessions.has(command.sessionId)
          ? launch(command, resumeId, null)
          : Effect.flatMap(
            Effect.zipRight(outbox.open(command.sessionId, command.lastRseq), outbox.claimRecovered(command.sessionId)),
            (recovered) => launch(command, resumeId, recovered)
          )
      )

    /**
     * Starts the session, or re-attaches to it when a previous runner process
     * left it running (`recovered`, from the durable outbox, and a harness
     * with `reattach`).
     */
    const launch = Effect.fn("SessionManager.start")(function*(
      command: StartSessionCommand,
      resumeId: string | null,
      recovered: RecoveredSession | null
    ) {
      if (sessions.has(command.sessionId)) {
        // Redelivered (or re-issued after a reconnect): the server has everything through lastRseq.
        yield* outbox.open(command.sessionId, command.lastRseq)
        return
      }
      yield* outbox.open(command.sessionId, command.lastRseq)
      const entry: Entry = { sessionId: command.sessionId, harness: command.harness, state: "starting", running: null, scope: null }
      sessions.set(command.sessionId, entry)
      if (recovered !== null && recovered.finished) {
        // The previous runner recorded the session's end; the outbox resends what the server lacks.
        entry.state = "finished"
        return
      }

      const found = registry.get(command.harness)
      if (Option.isNone(found)) {
        const offered = registry.names.length === 0 ? "none" : registry.names.join(", ")
        return yield* failSession(entry, `harness_error: no harness ${JSON.stringify(command.harness)} on this host (it offers: ${offered})`)
      }
      const harness = found.value
      const readiness = yield* harness.readiness
      if (!readiness.ready) {
        return yield* failSession(
          entry,
          `harness_error: ${harness.name} is not ready on this host${readiness.detail === null ? "" : `: ${readiness.detail}`}`
        )
      }

      const scope = yield* Scope.fork(managerScope, ExecutionStrategy.sequential)
      const spec: HarnessStartSpec = {
        sessionId: command.sessionId,
        cwd: command.cwd,
        args: command.args,
        prompt: command.prompt,
        size: command.size,
        resumeId,
        emit: (event, checkpoint) => outbox.emit(command.sessionId, event, checkpoint),
        emitAll: (items) => outbox.emitAll(command.sessionId, items),
        stateDir: yield* outbox.sessionDir(command.sessionId),
        terminal: terminals
      }
      const reattach = recovered === null ? undefined : harness.reattach
      const started = yield* (reattach === undefined || recovered === null
        ? harness.start(spec)
        : reattach(spec, { checkpoint: recovered.checkpoint })).pipe(Scope.extend(scope), Effect.either)
      if (started._tag === "Left") {
        yield* Scope.close(scope, Exit.void)
        return yield* failSession(
          entry,
          reattach === undefined ? `harness_error: ${started.left.reason}` : `runner_restarted: ${started.left.reason}`
        )
      }
      const running = started.right
      entry.running = running
      entry.scope = scope
      entry.state = "running"
      // When the session ends by itself, release what it held (and anything it left running).
      yield* Effect.forkIn(
        running.exited.pipe(
          Effect.zipRight(Effect.sync(() => {
            entry.state = "finished"
          })),
          Effect.zipRight(closeSession(entry))
        ),
        managerScope
      )
    })

    const rejected = (entry: Entry, reason: string): Effect.Effect<void> =>
      emitLater(entry.sessionId, { type: "error", message: reason, code: "input_rejected" })

    /** Acts on one command. Never fails and never waits on the outbox. */
    const dispatch = (command: RunnerCommand): Effect.Effect<void> =>
      Effect.suspend((): Effect.Effect<void> => {
        if (command.type === "start_session") return start(command)
        const entry = sessions.get(command.sessionId)
        if (entry === undefined) {
          return Effect.logWarning(`runner: ${command.type} for unknown session ${command.sessionId} ignored (no start_session)`)
        }
        const running = entry.running
        if (running === null || entry.state === "finished") {
          return command.type === "stop" || command.type === "interrupt"
            ? Effect.void
            : rejected(entry, `the session has ${entry.state === "starting" ? "not started" : "finished"}; ${command.type} was not delivered`)
        }
        switch (command.type) {
          case "send_input":
            return running.send(command.text).pipe(Effect.catchTag("HarnessError", (e) => rejected(entry, e.reason)))
          case "interrupt":
            return running.interrupt.pipe(Effect.catchTag("HarnessError", (e) => rejected(entry, e.reason)))
          case "resolve_approval":
            return running.resolveApproval(command.requestId, command.decision, command.note).pipe(
              Effect.catchTag("HarnessError", (e) => rejected(entry, e.reason))
            )
          case "stop":
            return Effect.asVoid(Effect.forkIn(running.stop, managerScope))
        }
      }).pipe(Effect.uninterruptible, Effect.withSpan("SessionManager.dispatch", { attributes: { type: command.type } }))

    /**
     * The sessions the server expects this host to run (sent with every
     * welcome). Known ones only get their outbox trimmed to what the server
     * stored; unknown ones were lost with a previous runner process: a
     * harness that can resume continues them, others are reported failed.
     */
    const adopt = (expected: ReadonlyArray<ExpectedSession>): Effect.Effect<void> =>
      Effect.forEach(expected, (session) =>
        Effect.gen(function*() {
          if (sessions.has(session.sessionId)) return yield* outbox.open(session.sessionId, session.lastRseq)
          yield* outbox.open(session.sessionId, session.lastRseq)
          const recovered = yield* outbox.claimRecovered(session.sessionId)
          const harness = registry.get(session.harness)
          const command: StartSessionCommand = { type: "start_session", commandSeq: 1, ...session, prompt: null }
          if (
            (recovered !== null && (recovered.finished || (Option.isSome(harness) && harness.value.reattach !== undefined))) ||
            (Option.isSome(harness) && harness.value.capabilities.includes("resume"))
          ) {
            return yield* launch(command, session.resumeId ?? null, recovered)
          }
          const entry: Entry = { sessionId: session.sessionId, harness: session.harness, state: "starting", running: null, scope: null }
          sessions.set(session.sessionId, entry)
          yield* failSession(
            entry,
            `runner_restarted: the ${session.harness} session's process ended with the previous runner and cannot be resumed`
          )
        }), { discard: true })

    /**
     * Stops a session and forgets it and its unsent events (the server does
     * not know it). A session only a previous runner process ran (restored
     * from the durable outbox) has what it left running abandoned first.
     */
    const forget = (sessionId: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const entry = sessions.get(sessionId)
        sessions.delete(sessionId)
        const leftovers = entry !== undefined ? Effect.void : Effect.flatMap(outbox.claimRecovered(sessionId), (recovered) =>
          recovered === null ? Effect.void : Effect.forEach(
            registry.names.flatMap((name) => Option.toArray(registry.get(name))),
            (harness) => harness.abandon === undefined ? Effect.void : harness.abandon(recovered.dir),
            { discard: true }
          ))
        return leftovers.pipe(
          Effect.zipRight(outbox.discard(sessionId)),
          Effect.zipRight(entry === undefined ? Effect.void : closeSession(entry))
        )
      })

    /** Stops every session and waits until their processes are gone. */
    const stopAll: Effect.Effect<void> = Effect.suspend(() =>
      Effect.forEach([...sessions.values()], closeSession, { concurrency: "unbounded", discard: true })
    ).pipe(Effect.withSpan("SessionManager.stopAll"))

    const list: Effect.Effect<ReadonlyArray<SessionSummary>> = Effect.sync(() =>
      [...sessions.values()].map(({ harness, sessionId, state }) => ({ sessionId, harness, state }))
    )

    yield* Effect.addFinalizer(() => stopAll)

    return { dispatch, adopt, forget, stopAll, list } as const
  }),
  dependencies: [HarnessRegistry.Default, EventOutbox.Default, RunnerTerminals.Default]
}) {}

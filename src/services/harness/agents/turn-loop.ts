/**
 * The turn loop of SDKs that run one turn per call (Codex threads, the
 * OpenAI Agents runner, pi's RPC prompt): user messages queue up and run one
 * after another, each under its own AbortSignal.
 *
 * - `send` queues a message (refused once the session finished); the loop
 *   emits `running` when a turn starts and `idle` when it ends (`idle` with
 *   reason `interrupted` after an interrupt). A turn that fails is reported
 *   as an `error` event (code `turn_failed`) and the session stays usable.
 * - `interrupt` aborts the running turn's signal and denies pending approvals.
 * - `shutdown` aborts the running turn and stops the loop (the caller then
 *   cleans up processes and finishes the session).
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { HarnessError } from "../Harness.js"
import { describeError, type SessionKit } from "./session-kit.js"

export interface TurnLoop {
  readonly send: (text: string) => Effect.Effect<void, HarnessError>
  readonly interrupt: Effect.Effect<void>
  readonly shutdown: Effect.Effect<void>
}

export const startTurnLoop = (
  kit: SessionKit,
  runTurn: (text: string, signal: AbortSignal) => Effect.Effect<void, unknown>
): Effect.Effect<TurnLoop, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<string>()
    let current: AbortController | null = null

    const oneTurn = (text: string) =>
      Effect.gen(function*() {
        const controller = new AbortController()
        current = controller
        yield* kit.setStatus("running")
        const outcome = yield* Effect.either(runTurn(text, controller.signal))
        current = null
        if (controller.signal.aborted) return yield* kit.setStatus("idle", "interrupted")
        if (outcome._tag === "Left") {
          yield* kit.emit({ type: "error", message: `the turn failed: ${describeError(outcome.left)}`, code: "turn_failed" })
        }
        yield* kit.setStatus("idle")
      })

    const worker = yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(queue), oneTurn)))

    const abortCurrent = Effect.sync(() => current?.abort())

    return {
      send: (text) => Effect.zipRight(kit.ensureOpen, Queue.offer(queue, text)),
      interrupt: Effect.zipRight(kit.approvals.cancelAll("interrupted by the user"), abortCurrent),
      shutdown: Effect.gen(function*() {
        yield* kit.approvals.cancelAll("the session is stopping")
        yield* abortCurrent
        yield* Queue.shutdown(queue)
        yield* Fiber.interrupt(worker).pipe(Effect.timeout("2 seconds"), Effect.ignore)
      })
    }
  })

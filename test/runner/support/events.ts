/** Helpers for runner and harness tests: an event collector and bounded polling. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { SessionEvent } from "../../../src/domain/session-event.js"

export class WaitTimedOut extends Error {
  constructor(readonly what: string) {
    super(`timed out waiting for ${what}`)
  }
}

/** Polls `check` every 20 ms until it returns a value (not undefined), failing after `timeout`. */
export const eventually = <A>(
  what: string,
  check: () => A | undefined,
  timeout: Duration.DurationInput = "5 seconds"
): Effect.Effect<A> =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(Duration.decode(timeout))
    for (;;) {
      const value = check()
      if (value !== undefined) return value
      if (Date.now() > deadline) return yield* Effect.die(new WaitTimedOut(what))
      yield* Effect.sleep("20 millis")
    }
  })

export interface Collector {
  readonly events: Array<SessionEvent>
  readonly emit: (event: SessionEvent) => Effect.Effect<void>
  /** Waits until an event matches, returning it. */
  readonly waitFor: (what: string, predicate: (event: SessionEvent) => boolean, timeout?: Duration.DurationInput) => Effect.Effect<SessionEvent>
  /** The texts of the message events with that role, in order. */
  readonly texts: (role?: "assistant" | "system" | "user") => ReadonlyArray<string>
}

export const makeCollector = (): Collector => {
  const events: Array<SessionEvent> = []
  return {
    events,
    emit: (event) =>
      Effect.sync(() => {
        events.push(event)
      }),
    waitFor: (what, predicate, timeout) => eventually(what, () => events.find(predicate), timeout),
    texts: (role) => events.flatMap((e) => (e.type === "message" && (role === undefined || e.role === role) ? [e.text] : []))
  }
}

export const isStatus = (status: string) => (event: SessionEvent): boolean => event.type === "status" && event.status === status

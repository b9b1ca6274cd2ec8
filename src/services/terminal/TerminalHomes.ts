/**
 * TerminalHomes: which server instance holds each terminal, when several
 * instances share one database behind one URL.
 *
 * A terminal lives where its runner link is: that instance has the ring, the
 * screen mirror and the transcript. An instance started with
 * `TETHER_INSTANCE_URL` (the URL its peers reach it at, e.g.
 * `http://10.0.0.5:7337`) writes a heartbeat into `server_instances` every
 * few seconds and claims a terminal in `terminal_homes` whenever a runner
 * link attaches to it. A viewer that reaches another instance is forwarded
 * there (src/server/terminal.ts) while that home's heartbeat is fresh.
 *
 * Without `TETHER_INSTANCE_URL` nothing is written or read: one instance
 * serves its own terminals, as on a laptop.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"

/** How often an instance writes its heartbeat. */
export const HEARTBEAT_INTERVAL = Duration.seconds(5)
/** A home whose heartbeat is older than this is taken for dead: its terminals are served where viewers arrive. */
export const HOME_STALE_AFTER = Duration.seconds(15)

/** An http(s) origin (scheme, host, port): no path, query, fragment or credentials. Normalized (`URL.origin`). */
export const parseInstanceUrl = (text: string): Either.Either<string, string> => {
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    return Either.left("not a URL")
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return Either.left("the scheme must be http or https")
  if (url.username !== "" || url.password !== "") return Either.left("no credentials in the URL")
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") return Either.left("no path, query or fragment")
  return Either.right(url.origin)
}

/** `TETHER_INSTANCE_URL`, if set: this instance's URL as its peers reach it. */
export const instanceUrlConfig: Config.Config<Option.Option<string>> = Config.option(
  Config.string("TETHER_INSTANCE_URL").pipe(
    Config.mapOrFail((text) =>
      Either.mapLeft(parseInstanceUrl(text), (why) =>
        ConfigError.InvalidData([], `must be this instance's URL as its peers reach it, like http://10.0.0.5:7337 (${why})`))
    )
  )
)

export class TerminalHomes extends Effect.Service<TerminalHomes>()("tether/TerminalHomes", {
  scoped: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const self = yield* instanceUrlConfig

    /** Claims `sessionId`'s terminal for this instance (its runner link attached here). Best effort: a failure is logged. */
    const claim = (sessionId: string): Effect.Effect<void> =>
      Option.match(self, {
        onNone: () => Effect.void,
        onSome: (url) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            sql`
              INSERT INTO terminal_homes (session_id, instance_url, claimed_at) VALUES (${sessionId}, ${url}, ${now})
              ON CONFLICT (session_id) DO UPDATE SET instance_url = ${url}, claimed_at = ${now}`).pipe(
              Effect.asVoid,
              Effect.catchAll((error) => Effect.logWarning(`could not record terminal ${sessionId} as held here`, error))
            )
      })

    /**
     * The URL of the other instance holding `sessionId`'s terminal, if there
     * is one and it is alive; none when it is here, unknown or dead (or the
     * database cannot say: the terminal is then served here).
     */
    const homeOf = (sessionId: string): Effect.Effect<Option.Option<string>> =>
      Option.match(self, {
        onNone: () => Effect.succeedNone,
        onSome: (url) =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const rows = yield* sql<{ readonly instance_url: string; readonly seen_at: number | string }>`
              SELECT h.instance_url, i.seen_at FROM terminal_homes h
              JOIN server_instances i ON i.url = h.instance_url
              WHERE h.session_id = ${sessionId}`
            const row = rows[0]
            if (row === undefined || row.instance_url === url) return Option.none()
            return now - Number(row.seen_at) < Duration.toMillis(HOME_STALE_AFTER) ? Option.some(row.instance_url) : Option.none()
          }).pipe(
            Effect.catchAll((error) =>
              Effect.as(Effect.logWarning(`could not look up where terminal ${sessionId} is held; serving it here`, error), Option.none()))
          )
      })

    if (Option.isSome(self)) {
      const url = self.value
      const beat = Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql`
          INSERT INTO server_instances (url, seen_at) VALUES (${url}, ${now})
          ON CONFLICT (url) DO UPDATE SET seen_at = ${now}`).pipe(
        Effect.catchAll((error) => Effect.logWarning("could not write this instance's heartbeat", error))
      )
      yield* beat
      yield* Effect.forkScoped(Effect.repeat(beat, Schedule.spaced(HEARTBEAT_INTERVAL)))
      // Stopping: peers stop forwarding here at once instead of after HOME_STALE_AFTER.
      yield* Effect.addFinalizer(() => sql`DELETE FROM server_instances WHERE url = ${url}`.pipe(Effect.ignore))
    }

    return { self, claim, homeOf } as const
  })
}) {}

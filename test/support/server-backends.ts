/**
 * The databases a real server process can be started on in process-level
 * tests: SQLite (its TETHER_HOME's file) and PostgreSQL (a fresh database per
 * `database()` call, all dropped by `teardown()`). Without a reachable
 * PostgreSQL its suite is skipped loudly, except under CI, where a failing
 * test says why.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { describe, it } from "vitest"
import { freshPostgresDatabase, postgresProbe } from "./databases.js"

export interface ServerBackend {
  readonly name: "sqlite" | "postgres"
  /** Why this backend cannot run here, or undefined. */
  readonly unavailable: string | undefined
  /** Server environment for a new server with its own, empty database. */
  readonly database: () => Promise<Record<string, string>>
  readonly teardown: () => Promise<void>
}

const sqlite: ServerBackend = {
  name: "sqlite",
  unavailable: undefined,
  database: async () => ({}),
  teardown: async () => {}
}

const postgres = (unavailable: string | undefined): ServerBackend => {
  let scope: Scope.CloseableScope | undefined
  return {
    name: "postgres",
    unavailable,
    database: async () => {
      scope ??= Effect.runSync(Scope.make())
      return { TETHER_DATABASE_URL: await Effect.runPromise(Scope.extend(freshPostgresDatabase, scope)) }
    },
    teardown: async () => {
      if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
      scope = undefined
    }
  }
}

/** Both backends for the suite called `suite`; reports an unavailable PostgreSQL as described above. */
export const serverBackends = async (suite: string): Promise<ReadonlyArray<ServerBackend>> => {
  const probe = await postgresProbe()
  const unavailable = probe.available ? undefined : `PostgreSQL unavailable: ${probe.reason}`
  if (unavailable !== undefined) {
    if (process.env["CI"]) {
      describe(`${suite} (postgres)`, () => {
        it("has a PostgreSQL server to run against", () => {
          throw new Error(`${unavailable} (CI is set, so the Postgres suite must run)`)
        })
      })
    } else {
      console.warn(`SKIPPING the Postgres ${suite}: ${unavailable}`)
    }
  }
  return [sqlite, postgres(unavailable)]
}

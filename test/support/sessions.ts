/** Seeding sessions straight into the repositories, for tests of what sits on top of them. */
import * as Effect from "effect/Effect"
import type { SessionStatus } from "../../src/domain/session-event.js"
import { HostRepo } from "../../src/services/hosts/HostRepo.js"
import { SessionRepo } from "../../src/services/sessions/SessionRepo.js"

let seeded = 0

/** A new `shell` session with no events, on a new host; returns its id. */
export const seedSession = (options: { readonly status?: SessionStatus; readonly now?: number; readonly harness?: string } = {}) =>
  Effect.gen(function*() {
    seeded += 1
    const now = options.now ?? 1
    const host = yield* (yield* HostRepo).register({
      id: `hst_seed${seeded}`,
      name: `seed-host-${seeded}`,
      version: null,
      harnesses: [],
      now,
      createdBy: "test"
    })
    const id = `ses_seed${seeded}`
    yield* (yield* SessionRepo).insert({
      id,
      hostId: host.id,
      harness: options.harness ?? "shell",
      cwd: "/",
      args: [],
      title: null,
      status: options.status ?? "running",
      statusReason: null,
      exitCode: null,
      archived: false,
      createdAt: now,
      updatedAt: now,
      lastSeq: 0,
      lastRseq: 0,
      forkedFrom: null,
      forkedUpToSeq: null,
      createdBy: "test"
    })
    return id
  })

/**
 * Access scopes form a chain: read ⊂ write ⊂ admin.
 * A token granted `write` may do everything `read` may, and so on.
 */
import * as Schema from "effect/Schema"

export const Scope = Schema.Literal("read", "write", "admin")
export type Scope = typeof Scope.Type

export const allScopes: ReadonlyArray<Scope> = ["read", "write", "admin"]

const rank: Record<Scope, number> = { read: 0, write: 1, admin: 2 }

/** True when a credential holding `granted` may act where `required` is needed. */
export const satisfies = (granted: Scope, required: Scope): boolean => rank[granted] >= rank[required]

/** The weaker of two scopes (used when a token is created by a token: never escalate). */
export const weaker = (a: Scope, b: Scope): Scope => (rank[a] <= rank[b] ? a : b)

export const describeScope: Record<Scope, string> = {
  read: "view sessions, hosts, models and the server's state",
  write: "everything read allows, plus create and drive sessions and run hosts",
  admin: "everything write allows, plus manage tokens, keys, providers, settings and read the audit log"
}

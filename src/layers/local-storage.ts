/**
 * Host-side commands that work on the server's database directly
 * (`server start`'s first-run set-up, `server password`). Only someone on
 * the server's machine with access to its files or database can run them.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import { AuditLog } from "../services/audit/AuditLog.js"
import { ManagementPassword } from "../services/password/ManagementPassword.js"
import { TokenStore } from "../services/tokens/TokenStore.js"
import type { Scope } from "../domain/scope.js"
import { CoreServicesLive } from "./services.js"
import { StorageLive } from "./storage.js"

const LocalServicesLive = CoreServicesLive.pipe(Layer.provideMerge(StorageLive))

export const withLocalStorage = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, LocalServicesLive)

export const rotatePasswordLocally = (next: Option.Option<Redacted.Redacted<string>>) =>
  withLocalStorage(Effect.gen(function*() {
    const password = yield* (yield* ManagementPassword).rotate(next)
    yield* (yield* AuditLog).record({
      action: "password.changed",
      actor: "local",
      peer: null,
      outcome: "success",
      detail: "rotated with `tether server password`"
    })
    return password
  }))

/** Issues an access token straight into the local database (local mode: no password exchange needed). */
export const issueTokenLocally = (request: { readonly name: string; readonly scope: Scope }) =>
  withLocalStorage(Effect.gen(function*() {
    const issued = yield* (yield* TokenStore).issue({ kind: "access", ...request, createdBy: "local" })
    yield* (yield* AuditLog).record({
      action: "token.created",
      actor: "local",
      peer: null,
      outcome: "success",
      detail: `${issued.row.scope} token ${issued.row.prefix}… (${issued.row.name})`
    })
    return issued.token
  }))

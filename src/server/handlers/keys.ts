/** `/v1/keys` (admin): create, list and revoke inference keys (`tsk_…`; the secret is returned once). Changes are audited. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { TetherApi } from "../../domain/api/index.js"
import { actorName, CurrentPrincipal } from "../../domain/principal.js"
import { AuditLog } from "../../services/audit/AuditLog.js"
import { InferenceKeys } from "../../services/gateway/InferenceKeys.js"

export const KeysHandlers = HttpApiBuilder.group(TetherApi, "keys", (handlers) =>
  Effect.gen(function*() {
    const keys = yield* InferenceKeys
    const audit = yield* AuditLog
    return handlers
      .handle("create", ({ payload }) =>
        Effect.gen(function*() {
          const principal = yield* CurrentPrincipal
          const created = yield* keys.create({
            name: payload.name,
            models: payload.models,
            expiresInDays: payload.expiresInDays,
            createdBy: actorName(principal)
          })
          yield* audit.record({
            action: "key.created",
            actor: actorName(principal),
            peer: principal.peer,
            outcome: "success",
            detail: `inference key ${created.key.prefix}… (${created.key.name})${created.key.models === null ? "" : ` for ${created.key.models.join(", ")}`}`
          })
          return created
        }))
      .handle("list", () => Effect.map(keys.list(), (list) => ({ keys: list })))
      .handle("revoke", ({ path }) =>
        Effect.gen(function*() {
          const principal = yield* CurrentPrincipal
          const revoked = yield* keys.revoke(path.idOrPrefix)
          if (!revoked.alreadyRevoked) {
            yield* audit.record({
              action: "key.revoked",
              actor: actorName(principal),
              peer: principal.peer,
              outcome: "success",
              detail: `inference key ${revoked.key.prefix}… (${revoked.key.name})`
            })
          }
          return revoked
        }))
  }))

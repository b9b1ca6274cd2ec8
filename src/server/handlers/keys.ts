/** `/v1/keys` (admin): create, list and revoke inference keys (`tsk_…`; the secret is returned once). */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { TetherApi } from "../../domain/api/index.js"
import { actorName, CurrentPrincipal } from "../../domain/principal.js"
import { InferenceKeys } from "../../services/gateway/InferenceKeys.js"

export const KeysHandlers = HttpApiBuilder.group(TetherApi, "keys", (handlers) =>
  Effect.gen(function*() {
    const keys = yield* InferenceKeys
    return handlers
      .handle("create", ({ payload }) =>
        Effect.flatMap(CurrentPrincipal, (principal) =>
          keys.create({
            name: payload.name,
            models: payload.models,
            expiresInDays: payload.expiresInDays,
            createdBy: actorName(principal)
          })))
      .handle("list", () => Effect.map(keys.list(), (list) => ({ keys: list })))
      .handle("revoke", ({ path }) => keys.revoke(path.idOrPrefix))
  }))

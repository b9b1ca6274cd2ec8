/** `/v1/providers` (admin): add, list, show and remove model providers. Keys go in, never out. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { TetherApi } from "../../domain/api/index.js"
import { actorName, CurrentPrincipal } from "../../domain/principal.js"
import { MasterKeyProblem } from "../../domain/provider.js"
import { AuditLog } from "../../services/audit/AuditLog.js"
import { ProviderRegistry } from "../../services/providers/ProviderRegistry.js"

export const ProvidersHandlers = HttpApiBuilder.group(TetherApi, "providers", (handlers) =>
  Effect.gen(function*() {
    const registry = yield* ProviderRegistry
    const audit = yield* AuditLog
    return handlers
      .handle("create", ({ payload }) =>
        Effect.gen(function*() {
          const principal = yield* CurrentPrincipal
          const added = yield* registry.add(payload, actorName(principal))
          yield* audit.record({
            action: "provider.added",
            actor: actorName(principal),
            peer: principal.peer,
            outcome: "success",
            detail: `provider ${payload.name} (${payload.baseUrl})`
          })
          return added
        }).pipe(
          Effect.catchTag("MasterKeyUnavailable", (e) =>
            Effect.fail(new MasterKeyProblem({ error: `cannot store the API key: ${e.message}` })))
        ))
      .handle("list", () => Effect.map(registry.list, (providers) => ({ providers })))
      .handle("get", ({ path }) => registry.get(path.name))
      .handle("remove", ({ path }) =>
        Effect.gen(function*() {
          const principal = yield* CurrentPrincipal
          yield* registry.remove(path.name)
          yield* audit.record({
            action: "provider.removed",
            actor: actorName(principal),
            peer: principal.peer,
            outcome: "success",
            detail: `provider ${path.name}`
          })
          return { deleted: true as const, name: path.name }
        }))
  }))

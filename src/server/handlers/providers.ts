/** `/v1/providers` (admin): add, list, show and remove model providers. Keys go in, never out. */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { TetherApi } from "../../domain/api/index.js"
import { actorName, CurrentPrincipal } from "../../domain/principal.js"
import { MasterKeyProblem } from "../../domain/provider.js"
import { ProviderRegistry } from "../../services/providers/ProviderRegistry.js"

export const ProvidersHandlers = HttpApiBuilder.group(TetherApi, "providers", (handlers) =>
  Effect.gen(function*() {
    const registry = yield* ProviderRegistry
    return handlers
      .handle("create", ({ payload }) =>
        Effect.flatMap(CurrentPrincipal, (principal) => registry.add(payload, actorName(principal))).pipe(
          Effect.catchTag("MasterKeyUnavailable", (e) =>
            Effect.fail(new MasterKeyProblem({ error: `cannot store the API key: ${e.message}` })))
        ))
      .handle("list", () => Effect.map(registry.list, (providers) => ({ providers })))
      .handle("get", ({ path }) => registry.get(path.name))
      .handle("remove", ({ path }) => Effect.as(registry.remove(path.name), { deleted: true as const, name: path.name }))
  }))

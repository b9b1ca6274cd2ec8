/** Who is calling: provided per request by the authorization middleware. */
import * as Context from "effect/Context"
import type { Scope } from "./scope.js"

export type Principal =
  | { readonly _tag: "Anonymous"; readonly peer: string | null }
  | {
    readonly _tag: "AccessToken"
    readonly peer: string | null
    readonly tokenId: string
    readonly name: string
    readonly prefix: string
    readonly scope: Scope
  }

export class CurrentPrincipal extends Context.Tag("tether/CurrentPrincipal")<CurrentPrincipal, Principal>() {}

/** How a principal is named in the audit log. */
export const actorName = (principal: Principal): string =>
  principal._tag === "AccessToken" ? `${principal.name} (${principal.prefix}…)` : "anonymous"

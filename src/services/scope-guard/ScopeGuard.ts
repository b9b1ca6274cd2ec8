/**
 * ScopeGuard: the table of every route's declared rule, read from the HTTP
 * API's annotations, and the decision for one request. The decision is pure
 * so it is property-tested directly; the HTTP middleware only gathers inputs.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { TetherApi } from "../../domain/api/index.js"
import { Forbidden, LoopbackOnly } from "../../domain/errors.js"
import { requiredScope, type RouteRule, RouteRuleAnnotation } from "../../domain/route-rule.js"
import { satisfies, type Scope } from "../../domain/scope.js"
import { isLoopback } from "./peer.js"

export interface RouteEntry {
  readonly group: string
  readonly name: string
  readonly method: string
  readonly path: string
  readonly rule: Option.Option<RouteRule>
}

/** Every endpoint of an HttpApi with the rule it declares (if any). */
export const routesOf = <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: HttpApi.HttpApi<Id, Groups, E, R>
): ReadonlyArray<RouteEntry> => {
  const entries: Array<RouteEntry> = []
  HttpApi.reflect(api, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group }) => {
      entries.push({
        group: group.identifier,
        name: endpoint.name,
        method: endpoint.method,
        path: endpoint.path,
        rule: Context.getOption(endpoint.annotations, RouteRuleAnnotation)
      })
    }
  })
  return entries
}

export interface RequestFacts {
  readonly method: string
  readonly peer: string | null
  readonly forwarded: boolean
}

/** What a scoped route needs before credentials are looked at. */
export const checkPeer = (
  rule: Extract<RouteRule, { _tag: "Scoped" }>,
  facts: RequestFacts
): Either.Either<void, LoopbackOnly> => {
  if (!rule.loopbackOnly) return Either.void
  if (facts.forwarded) {
    return Either.left(
      new LoopbackOnly({ error: "this route is loopback-only and refuses proxied requests (X-Forwarded-For present)" })
    )
  }
  if (facts.peer === null || !isLoopback(facts.peer)) {
    return Either.left(
      new LoopbackOnly({ error: `this route only answers clients on the server's own machine, not ${facts.peer ?? "an unknown peer"}` })
    )
  }
  return Either.void
}

export const checkScope = (
  rule: Extract<RouteRule, { _tag: "Scoped" }>,
  method: string,
  granted: Scope
): Either.Either<void, Forbidden> => {
  const required = requiredScope(rule, method)
  return satisfies(granted, required)
    ? Either.void
    : Either.left(
      new Forbidden({ error: `this needs a token with ${required} scope; yours has ${granted}`, required, granted })
    )
}

export class ScopeGuard extends Effect.Service<ScopeGuard>()("tether/ScopeGuard", {
  sync: () => {
    const routes = routesOf(TetherApi)
    const byKey = new Map(routes.map((r) => [`${r.method} ${r.path}`, r] as const))
    /** The rule for a route as the router matched it; None means undeclared (refused). */
    const ruleFor = (method: string, path: string): Option.Option<RouteRule> =>
      Option.flatMap(Option.fromNullable(byKey.get(`${method.toUpperCase()} ${path}`)), (r) => r.rule)
    return { routes, ruleFor, checkPeer, checkScope } as const
  }
}) {}

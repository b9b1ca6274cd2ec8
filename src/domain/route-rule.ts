/**
 * Every HTTP route declares who may call it, right where it is defined.
 *
 * - `public`: no credential (health checks, the password exchange itself).
 * - `scoped`: an access token whose scope satisfies the required one. The
 *   required scope is inferred from the method (GET/HEAD/OPTIONS → read,
 *   anything else → write) unless the route raises it (the admin list).
 * - `loopbackOnly`: additionally refused for any peer that is not
 *   127.0.0.0/8 or ::1, and for any request carrying X-Forwarded-For.
 */
import * as Context from "effect/Context"
import type { Scope } from "./scope.js"

export type RouteRule =
  | { readonly _tag: "Public" }
  | { readonly _tag: "Scoped"; readonly scope: Scope | "inferred"; readonly loopbackOnly: boolean }

export class RouteRuleAnnotation extends Context.Tag("tether/RouteRule")<RouteRuleAnnotation, RouteRule>() {}

export const Public: RouteRule = { _tag: "Public" }
export const Inferred: RouteRule = { _tag: "Scoped", scope: "inferred", loopbackOnly: false }
export const Admin: RouteRule = { _tag: "Scoped", scope: "admin", loopbackOnly: false }
export const AdminLoopbackOnly: RouteRule = { _tag: "Scoped", scope: "admin", loopbackOnly: true }

/** Required scope for a method when the route does not raise it. */
export const scopeForMethod = (method: string): Scope => {
  switch (method.toUpperCase()) {
    case "GET":
    case "HEAD":
    case "OPTIONS":
      return "read"
    default:
      return "write"
  }
}

/** The effective scope a scoped rule requires for the given method. */
export const requiredScope = (rule: Extract<RouteRule, { _tag: "Scoped" }>, method: string): Scope =>
  rule.scope === "inferred" ? scopeForMethod(method) : rule.scope

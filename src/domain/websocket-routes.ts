/**
 * The WebSocket endpoints (outside the HttpApi: they upgrade) and who may
 * open them. The server registers exactly these paths with these rules, and
 * the route-rule test checks this table like every other route.
 *
 * - the runner tunnel and the runner's terminal links need write scope (a
 *   host runs code and produces sessions' output);
 * - terminal viewers need read scope to watch; typing needs write scope,
 *   checked per frame (read-only viewers get an ERROR frame, not a refusal).
 */
import { type RouteRule } from "./route-rule.js"
import { TUNNEL_PATH } from "./rpc/tunnel.js"

export interface WebSocketRoute {
  /** A router path (`/…`, `:param` segments). */
  readonly path: `/${string}`
  readonly rule: Extract<RouteRule, { _tag: "Scoped" }>
  readonly description: string
}

export const RUNNER_TUNNEL_ROUTE: WebSocketRoute = {
  path: TUNNEL_PATH,
  rule: { _tag: "Scoped", scope: "write", loopbackOnly: false },
  description: "runner tunnel (@effect/rpc, NDJSON)"
}

export const RUNNER_TERMINAL_ROUTE: WebSocketRoute = {
  path: "/v1/runners/terminals/:sessionId",
  rule: { _tag: "Scoped", scope: "write", loopbackOnly: false },
  description: "a runner relays one session's PTY (terminal frames)"
}

export const TERMINAL_VIEWER_ROUTE: WebSocketRoute = {
  path: "/v1/sessions/:id/terminal",
  rule: { _tag: "Scoped", scope: "read", loopbackOnly: false },
  description: "terminal viewers (terminal frames); typing needs write scope"
}

export const WEBSOCKET_ROUTES: ReadonlyArray<WebSocketRoute> = [RUNNER_TUNNEL_ROUTE, RUNNER_TERMINAL_ROUTE, TERMINAL_VIEWER_ROUTE]

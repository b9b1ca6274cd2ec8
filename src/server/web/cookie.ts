/**
 * The web session cookie (`tether_session`): reading it from a Cookie header,
 * and the Set-Cookie values that set and clear it. Always HttpOnly,
 * SameSite=Strict and Path=/; Secure when the request reached us over HTTPS
 * (directly or, per X-Forwarded-Proto, through a TLS-terminating proxy).
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Config from "effect/Config"
import { WEB_SESSION_COOKIE } from "../../domain/api/web.js"

type Headers = Readonly<Record<string, string | undefined>>

/** The session token in the request's cookie, if any. */
export const sessionCookie = (headers: Headers): string | undefined => {
  const header = headers["cookie"]
  if (header === undefined || header === "") return undefined
  const value = Cookies.parseHeader(header)[WEB_SESSION_COOKIE]
  return value === undefined || value.trim() === "" ? undefined : value.trim()
}

/** Whether the client talks to us over HTTPS. */
export const viaHttps = (headers: Headers): boolean =>
  (headers["x-forwarded-proto"] ?? "").split(",")[0]?.trim().toLowerCase() === "https"

const attributes = (headers: Headers): string => `Path=/; HttpOnly; SameSite=Strict${viaHttps(headers) ? "; Secure" : ""}`

/** Set-Cookie value that stores the session token for `maxAgeSeconds`. */
export const setSessionCookie = (token: string, maxAgeSeconds: number, headers: Headers): string =>
  `${WEB_SESSION_COOKIE}=${token}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; ${attributes(headers)}`

/** Set-Cookie value that removes the session cookie. */
export const clearSessionCookie = (headers: Headers): string =>
  `${WEB_SESSION_COOKIE}=; Max-Age=0; ${attributes(headers)}`

/**
 * Whether the Origin header (when the browser sent one) names this server:
 * the same host and port as the Host header, or an origin listed in
 * `allowed` (TETHER_ALLOWED_ORIGINS, e.g. for a proxy that rewrites Host). A
 * missing Origin passes (non-browser clients, and same-origin GETs); "null"
 * and anything else fail.
 */
export const sameOrigin = (headers: Headers, allowed: ReadonlyArray<string> = []): boolean => {
  const origin = headers["origin"]
  if (origin === undefined) return true
  try {
    const url = new URL(origin)
    if (url.protocol !== "http:" && url.protocol !== "https:") return false
    if (allowed.includes(url.origin)) return true
    const host = headers["host"]
    return host !== undefined && url.host.toLowerCase() === host.toLowerCase()
  } catch {
    return false
  }
}

/** `TETHER_ALLOWED_ORIGINS`: comma-separated extra origins trusted like the server's own (read once, at start). */
export const AllowedOrigins = Config.array(Config.string(), "TETHER_ALLOWED_ORIGINS").pipe(
  Config.withDefault([] as ReadonlyArray<string>)
)

/**
 * CSRF tokens of web sessions. A session's CSRF token is an HMAC of the fixed
 * label `tether.csrf.v1` keyed with the session's own access token, so the
 * server can check it from the cookie alone (no state, same answer on every
 * server instance), and a page that cannot read the HttpOnly cookie cannot
 * compute it. Comparison is constant-time.
 */
import { createHmac, timingSafeEqual } from "node:crypto"

const LABEL = "tether.csrf.v1"

/** The CSRF token that belongs to a session token (base64url, 43 characters). */
export const csrfTokenFor = (sessionToken: string): string =>
  createHmac("sha256", sessionToken).update(LABEL).digest("base64url")

/** Whether `presented` is the CSRF token of `sessionToken`. */
export const csrfMatches = (sessionToken: string, presented: string | undefined): boolean => {
  if (presented === undefined) return false
  const expected = Buffer.from(csrfTokenFor(sessionToken))
  const given = Buffer.from(presented.trim())
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** Which database this process stores in, for `server status` and logs. */
import * as Context from "effect/Context"
import type { DatabaseKind } from "../../domain/server-info.js"

export class DatabaseInfo extends Context.Tag("tether/DatabaseInfo")<DatabaseInfo, {
  readonly kind: DatabaseKind
  /** The SQLite file, or the PostgreSQL URL with any password replaced by `***`. */
  readonly location: string
}>() {}

const MASK = "***"

/**
 * Hides the password of a database URL, both in the userinfo part
 * (`postgres://user:***@host/db`) and in a `password=` query parameter.
 */
export const maskDatabaseUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = MASK
    if (parsed.searchParams.has("password")) parsed.searchParams.set("password", MASK)
    return parsed.toString()
  } catch {
    // Not parseable as a URL: mask anything that looks like `//user:secret@`.
    return url.replace(/\/\/([^/:@]*):[^@/]*@/, `//$1:${MASK}@`).replace(/([?&]password=)[^&]*/i, `$1${MASK}`)
  }
}

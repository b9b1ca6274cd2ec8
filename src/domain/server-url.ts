/**
 * Turning what a user types after `tether connect` or `--server` into the
 * server's base URL, and a context name from it. Pure: no I/O, never throws.
 *
 *   example.com            → http://example.com:7337
 *   10.0.0.5 / [::1] / ::1 → http://10.0.0.5:7337 / http://[::1]:7337
 *   example.com:8080       → http://example.com:8080
 *   https://t.example.com/tether/ → https://t.example.com/tether
 *
 * Bare hosts (no scheme) are plain `http`: Tether's own listener does not
 * speak TLS; put it behind a proxy and give the `https://` URL instead.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/** The port `tether server run` listens on unless told otherwise. */
export const DEFAULT_PORT = 7337

/** The server of the built-in `default` context. */
export const DEFAULT_SERVER = `http://localhost:${DEFAULT_PORT}`

export class InvalidServerAddress extends Schema.TaggedError<InvalidServerAddress>()("InvalidServerAddress", {
  input: Schema.String,
  error: Schema.String
}) {
  override get message(): string {
    return `invalid server address "${this.input}": ${this.error}`
  }
}

export interface ParseServerAddressOptions {
  /**
   * Port to use when the address does not name one (instead of 7337 for a
   * bare host, instead of the scheme's default for a URL). An address that
   * names a different port is rejected rather than silently rewritten.
   */
  readonly port?: number | undefined
}

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//
// Characters a host (name, IPv4, bracketed IPv6) and port may be written with; non-ASCII for IDNs.
const AUTHORITY_RE = /^[A-Za-z0-9._~:[\]\u0080-\uFFFF-]+$/
// eslint-disable-next-line no-control-regex
const FORBIDDEN_RE = /[\s\u0000-\u001f\u007f\\]/

/**
 * Parses a server address into its normalised base URL: lower-case scheme and
 * host, the port only when it is not the scheme's default, the path prefix
 * without trailing slashes, no query, fragment or credentials.
 */
export const parseServerAddress = (
  input: string,
  options: ParseServerAddressOptions = {}
): Either.Either<string, InvalidServerAddress> => {
  const fail = (error: string) => Either.left(new InvalidServerAddress({ input, error }))
  try {
    const text = input.trim()
    if (text === "") return fail("it is empty")
    if (FORBIDDEN_RE.test(text)) return fail("it contains spaces, control characters or backslashes")
    if (text.includes("?") || text.includes("#")) return fail("a server address cannot have a query (?) or fragment (#)")

    const requested = options.port
    if (requested !== undefined && !isPort(requested)) {
      return fail(`--port must be a whole number from 1 to 65535, got ${requested}`)
    }

    const scheme = SCHEME_RE.exec(text)
    let rest: string
    let protocol: "http" | "https"
    let bare: boolean
    if (scheme !== null) {
      const name = (scheme[1] ?? "").toLowerCase()
      if (name !== "http" && name !== "https") return fail(`unsupported scheme "${name}://": use http:// or https://`)
      protocol = name
      rest = text.slice(scheme[0].length)
      bare = false
    } else {
      if (/^https?:/i.test(text)) return fail("malformed URL: expected http:// or https://")
      protocol = "http"
      rest = text
      bare = true
    }

    const slash = rest.indexOf("/")
    let authority = slash === -1 ? rest : rest.slice(0, slash)
    const path = slash === -1 ? "" : rest.slice(slash)
    if (authority === "") return fail("it has no host")
    if (authority.includes("@")) return fail("credentials in the address are not supported: use an access token")
    if (bare && !authority.includes("[") && (authority.match(/:/g)?.length ?? 0) >= 2) {
      // A bare IPv6 address such as ::1 or fe80::1: bracket it.
      authority = `[${authority}]`
    }
    if (!AUTHORITY_RE.test(authority)) return fail(`"${authority}" is not a valid host`)

    const portMatch = /:([^:\]]*)$/.exec(authority)
    const explicitPort = portMatch === null ? undefined : portMatch[1] ?? ""
    const hostPart = portMatch === null ? authority : authority.slice(0, portMatch.index)
    if (hostPart === "" || hostPart === "[]") return fail("it has no host")
    let port: number | undefined
    if (explicitPort !== undefined) {
      if (!/^\d{1,5}$/.test(explicitPort) || !isPort(Number(explicitPort))) {
        return fail(`"${explicitPort}" is not a valid port (1-65535)`)
      }
      port = Number(explicitPort)
      if (requested !== undefined && requested !== port) {
        return fail(`it names port ${port} but --port ${requested} was given`)
      }
    } else {
      port = requested ?? (bare ? DEFAULT_PORT : undefined)
    }

    let url: URL
    try {
      url = new URL(`${protocol}://${hostPart}${path}`)
    } catch {
      return fail(`"${hostPart}" is not a valid host name or IP address`)
    }
    if (url.hostname === "") return fail("it has no host")
    if (port !== undefined) url.port = String(port)
    const pathname = url.pathname.replace(/\/+$/, "")
    return Either.right(`${url.protocol}//${url.host}${pathname}`)
  } catch (cause) {
    return fail(`unparseable: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
}

const isPort = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535

const MAX_NAME_LENGTH = 63

/**
 * The context name `tether connect HOST` picks when none is given: the host
 * with dots turned into dashes (`tether.example.com` → `tether-example-com`,
 * `127.0.0.1` → `127-0-0-1`). IPv6 hosts become `ipv6-` plus their groups
 * (`[::1]` → `ipv6-1`, `[fe80::1]` → `ipv6-fe80-1`). The port and path are not
 * part of the name. Accepts a normalised URL or anything `parseServerAddress`
 * accepts; the result always satisfies the context-name rules.
 */
export const contextNameFromServer = (server: string): string => {
  const normalised = Either.getOrElse(parseServerAddress(server), () => server)
  let host: string
  try {
    host = new URL(normalised).hostname
  } catch {
    host = server
  }
  let name: string
  if (host.startsWith("[") || host.includes(":")) {
    name = "ipv6-" + host.replace(/[[\]]/g, "").replace(/:/g, "-")
  } else {
    name = host.replace(/\./g, "-")
  }
  name = name
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .replace(/[-.]+$/, "")
    .slice(0, MAX_NAME_LENGTH)
    .replace(/[-.]+$/, "")
  return name === "" ? "server" : name
}

/**
 * The WebSocket URL of an endpoint of a server: `http(s)://host[:port][/prefix]`
 * → `ws(s)://host[:port][/prefix]<path>`, without query, fragment or
 * credentials (tokens never go in a URL). Throws `TypeError` for a scheme
 * that is not http(s) or ws(s).
 */
export const webSocketUrl = (serverUrl: string, path: string): string => {
  const url = new URL(serverUrl)
  if (url.protocol === "http:") url.protocol = "ws:"
  else if (url.protocol === "https:") url.protocol = "wss:"
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new TypeError(`unsupported server URL scheme: ${url.protocol}`)
  url.username = ""
  url.password = ""
  url.search = ""
  url.hash = ""
  url.pathname = url.pathname.replace(/\/+$/, "") + path
  return url.toString()
}

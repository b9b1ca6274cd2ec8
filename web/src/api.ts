/**
 * The web UI's HTTP client: same-origin fetch with the session cookie, the
 * CSRF header on every non-GET request, JSON in and out, and one error type
 * carrying the server's `error` sentence. A 401 means the session ended:
 * listeners (the app shell) send the user back to the sign-in page.
 * Every call also reports whether the server answered at all, for the
 * connection indicator.
 */
import { connection } from "./connection.js"

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly body: unknown) {
    super(message)
  }
}

export interface WebSessionInfo {
  readonly tokenId: string
  readonly name: string
  readonly prefix: string
  readonly scope: "read" | "write" | "admin"
  readonly expiresAt: string | null
  readonly csrf: string
  readonly cookie: boolean
}

let csrf: string | null = null
const signedOutListeners = new Set<() => void>()

export const setCsrf = (token: string | null): void => {
  csrf = token
}

export const onSignedOut = (listener: () => void): (() => void) => {
  signedOutListeners.add(listener)
  return () => signedOutListeners.delete(listener)
}

const errorText = (status: number, body: unknown): string => {
  if (typeof body === "object" && body !== null && "error" in body && typeof body.error === "string") return body.error
  if (typeof body === "object" && body !== null && "message" in body && typeof body.message === "string") return body.message
  // OpenAI- and Anthropic-style errors (the model gateway): { error: { message } }.
  if (typeof body === "object" && body !== null && "error" in body && typeof body.error === "object" && body.error !== null) {
    const nested: object = body.error
    if ("message" in nested && typeof nested.message === "string") return nested.message
  }
  return `request failed (HTTP ${status})`
}

export interface RequestOptions {
  /** Do not treat 401 as "signed out" (the sign-in call itself). */
  readonly quiet401?: boolean
}

export const request = async <A>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<A> => {
  const headers: Record<string, string> = { accept: "application/json" }
  if (body !== undefined) headers["content-type"] = "application/json"
  if (method !== "GET" && csrf !== null) headers["x-tether-csrf"] = csrf
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
  } catch {
    connection.setApi("down")
    throw new ApiError(0, "the server cannot be reached", null)
  }
  connection.setApi(response.status >= 502 && response.status <= 504 ? "down" : "ok")
  const text = await response.text()
  let parsed: unknown = null
  if (text !== "") {
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = text
    }
  }
  if (!response.ok) {
    if (response.status === 401 && options.quiet401 !== true) for (const listener of signedOutListeners) listener()
    throw new ApiError(response.status, errorText(response.status, parsed), parsed)
  }
  return parsed as A
}

export const get = <A>(path: string): Promise<A> => request<A>("GET", path)
export const post = <A>(path: string, body: unknown): Promise<A> => request<A>("POST", path, body)
export const del = <A>(path: string): Promise<A> => request<A>("DELETE", path)

/** Whether an optional API (the model gateway's) exists on this server: anything but 404. */
export const routeExists = async (path: string): Promise<boolean> => {
  try {
    const response = await fetch(path, { credentials: "same-origin", headers: { accept: "application/json" } })
    return response.status !== 404
  } catch {
    return false
  }
}

/** Query string from the defined, non-empty values. */
export const query = (params: Readonly<Record<string, string | undefined>>): string => {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== "") search.set(key, value)
  const text = search.toString()
  return text === "" ? "" : `?${text}`
}

/**
 * The credential a request carries in a header: `Authorization: Bearer …`
 * (a bare `Authorization` value is taken as is) or `X-API-Key` (what
 * Anthropic clients send). An empty header counts as absent. Pure; used by
 * the HTTP API, the runner endpoints and the model gateway alike.
 */
import * as Option from "effect/Option"

export const headerCredential = (headers: Readonly<Record<string, string | undefined>>): Option.Option<string> => {
  const authorization = headers["authorization"]?.trim()
  if (authorization !== undefined && authorization !== "") {
    const match = /^Bearer\s+(.+)$/i.exec(authorization)
    return Option.some(match?.[1]?.trim() ?? authorization)
  }
  const apiKey = headers["x-api-key"]?.trim()
  return apiKey !== undefined && apiKey !== "" ? Option.some(apiKey) : Option.none()
}

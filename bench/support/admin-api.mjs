// What the benches do to drive a server they started: trade its management
// password for an admin token (`tether connect`, as a user would) and call
// its HTTP API with that token.
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"

/**
 * Runs `tether connect 127.0.0.1:PORT --password-stdin` with `env` (whose
 * TETHER_HOME, `home`, gets the context) and returns the access token saved.
 */
export const connectForToken = ({ bundle, url, home, env, password, timeoutMs = 30_000 }) => {
  const connect = spawnSync(process.execPath, [bundle, "connect", `127.0.0.1:${new URL(url).port}`, "--password-stdin"], {
    env,
    input: `${password}\n`,
    encoding: "utf8",
    timeout: timeoutMs
  })
  if (connect.status !== 0) throw new Error(`tether connect failed: ${connect.stderr}`)
  const config = JSON.parse(readFileSync(join(home, "config.json"), "utf8"))
  return config.contexts[config.currentContext].accessToken
}

/** `api(method, path, body?)` → `{ status, body }` (body parsed as JSON, undefined when empty). */
export const apiClient = (url, token) => async (method, path, body) => {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text) }
}

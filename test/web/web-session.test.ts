/**
 * The web UI's server side over a real socket: sign-in with the password and
 * with a token (cookie attributes, no secret in the body, lockout counting),
 * the cookie as a credential, CSRF and Origin checks on cookie mutations,
 * sign-out, and the static files with their security headers.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { TokenStore } from "../../src/services/tokens/TokenStore.js"
import { CONTENT_SECURITY_POLICY } from "../../src/server/web/static.js"
import { buildWebApp, startWebServer, TEST_PASSWORD, type WebServer } from "./support.js"

let server: WebServer
let webRoot: string

beforeAll(async () => {
  webRoot = await buildWebApp()
  // Read once when the server starts: an origin trusted like the server's own (a proxy's public name).
  process.env["TETHER_ALLOWED_ORIGINS"] = "https://tether.example.com"
  server = await startWebServer(webRoot)
}, 120_000)
afterAll(() => server?.stop())

interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: Record<string, unknown>
}

const call = async (method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> => {
  const response = await fetch(server.url + path, {
    method,
    headers: { ...(init.body === undefined ? {} : { "content-type": "application/json" }), ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    redirect: "manual"
  })
  const text = await response.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, text, json }
}

/** The `tether_session=…` pair from a Set-Cookie header, as a browser would send it back. */
const cookieOf = (answer: Answer): string => {
  const header = answer.headers.get("set-cookie") ?? ""
  const pair = header.split(";")[0] ?? ""
  assert.match(pair, /^tether_session=tat_/)
  return pair
}

const issue = (scope: "read" | "write" | "admin", days?: number) =>
  server.runtime.runPromise(
    Effect.flatMap(TokenStore, (tokens) => tokens.issue({ kind: "access", name: `${scope} test`, scope, expiresInDays: days, createdBy: "test" }))
      .pipe(Effect.map((t) => Redacted.value(t.token)))
  )

describe("web sign-in", () => {
  it("password sign-in sets an HttpOnly SameSite=Strict cookie and returns only the CSRF token", async () => {
    const wrong = await call("POST", "/v1/web/session", { body: { password: "nope" } })
    assert.strictEqual(wrong.status, 401)
    assert.strictEqual(wrong.json["_tag"], "InvalidPassword")
    assert.isNull(wrong.headers.get("set-cookie"))
    // The wrong attempt counted in the same lockout as `tether connect`.
    assert.strictEqual(wrong.json["remainingAttempts"], 4)

    const ok = await call("POST", "/v1/web/session", { body: { password: TEST_PASSWORD } })
    assert.strictEqual(ok.status, 201)
    const setCookie = ok.headers.get("set-cookie") ?? ""
    assert.match(setCookie, /HttpOnly/)
    assert.match(setCookie, /SameSite=Strict/)
    assert.match(setCookie, /Path=\//)
    assert.notMatch(setCookie, /Secure/)
    const maxAge = Number(/Max-Age=(\d+)/.exec(setCookie)?.[1])
    assert.isAtLeast(maxAge, 12 * 3600 - 5)
    assert.isAtMost(maxAge, 12 * 3600)
    assert.strictEqual(ok.json["scope"], "admin")
    assert.strictEqual(ok.json["name"], "web session")
    assert.strictEqual(ok.json["cookie"], true)
    assert.match(String(ok.json["csrf"]), /^[A-Za-z0-9_-]{43}$/)
    assert.notInclude(ok.text, "tat_" + cookieOf(ok).slice("tether_session=tat_".length))
    assert.strictEqual(ok.headers.get("cache-control"), "no-store")
  })

  it("the cookie authenticates reads; mutations need the CSRF header and a same-origin Origin", async () => {
    const signIn = await call("POST", "/v1/web/session", { body: { password: TEST_PASSWORD } })
    const cookie = cookieOf(signIn)
    const csrf = String(signIn.json["csrf"])

    const me = await call("GET", "/v1/web/session", { headers: { cookie } })
    assert.strictEqual(me.status, 200)
    assert.strictEqual(me.json["csrf"], csrf)
    assert.strictEqual(me.json["cookie"], true)
    assert.strictEqual((await call("GET", "/api/cli/tokens", { headers: { cookie } })).status, 200)

    const body = { name: "from the web" }
    const noCsrf = await call("POST", "/api/cli/tokens", { body, headers: { cookie } })
    assert.strictEqual(noCsrf.status, 403)
    assert.match(String(noCsrf.json["error"]), /X-Tether-CSRF/)
    const wrongCsrf = await call("POST", "/api/cli/tokens", { body, headers: { cookie, "x-tether-csrf": csrf.replace(/^./, (c) => (c === "A" ? "B" : "A")) } })
    assert.strictEqual(wrongCsrf.status, 403)
    const crossSite = await call("POST", "/api/cli/tokens", { body, headers: { cookie, "x-tether-csrf": csrf, origin: "http://evil.example" } })
    assert.strictEqual(crossSite.status, 403)
    const sameSite = await call("POST", "/api/cli/tokens", { body, headers: { cookie, "x-tether-csrf": csrf, origin: server.url } })
    assert.strictEqual(sameSite.status, 201)
    const listed = await call("POST", "/api/cli/tokens", { body, headers: { cookie, "x-tether-csrf": csrf, origin: "https://tether.example.com" } })
    assert.strictEqual(listed.status, 201)
    const nullOrigin = await call("POST", "/api/cli/tokens", { body, headers: { cookie, "x-tether-csrf": csrf, origin: "null" } })
    assert.strictEqual(nullOrigin.status, 403)

    // The models list (a gateway route) takes the cookie; inference routes and the runner tunnel never do.
    assert.strictEqual((await call("GET", "/v1/models", { headers: { cookie } })).status, 200)
    const inference = await call("POST", "/v1/chat/completions", { body: { model: "x/y", messages: [] }, headers: { cookie, "x-tether-csrf": csrf, origin: server.url } })
    assert.strictEqual(inference.status, 401)
    assert.strictEqual((await call("GET", "/v1/runners/tunnel", { headers: { cookie } })).status, 401)

    // A header token is not subject to CSRF (no ambient credential), even with a cookie present.
    const admin = await issue("admin")
    const viaHeader = await call("POST", "/api/cli/tokens", { body, headers: { cookie, authorization: `Bearer ${admin}` } })
    assert.strictEqual(viaHeader.status, 201)
  })

  it("token sign-in keeps the token's scope and never outlives it; bad tokens are refused", async () => {
    const read = await issue("read")
    const signIn = await call("POST", "/v1/web/session", { body: { token: read } })
    assert.strictEqual(signIn.status, 201)
    assert.strictEqual(signIn.json["scope"], "read")
    const cookie = cookieOf(signIn)
    assert.notStrictEqual(cookie, `tether_session=${read}`)
    const csrf = String(signIn.json["csrf"])
    const create = await call("POST", "/v1/sessions", { body: { harness: "shell", cwd: "/" }, headers: { cookie, "x-tether-csrf": csrf } })
    assert.strictEqual(create.status, 403)
    assert.strictEqual(create.json["_tag"], "Forbidden")

    const bogus = await call("POST", "/v1/web/session", { body: { token: "tat_notarealtokenatallnotarealtoken12" } })
    assert.strictEqual(bogus.status, 401)

    const shortLived = await issue("write", 1)
    const capped = await call("POST", "/v1/web/session", { body: { token: shortLived } })
    assert.strictEqual(capped.status, 201)
    const hoursLeft = (Date.parse(String(capped.json["expiresAt"])) - Date.now()) / 3_600_000
    assert.isAtMost(hoursLeft, 12)
    assert.isAbove(hoursLeft, 11)
  })

  it("sign-in from another site is refused; over HTTPS the cookie is Secure", async () => {
    const cross = await call("POST", "/v1/web/session", { body: { password: TEST_PASSWORD }, headers: { origin: "http://evil.example" } })
    assert.strictEqual(cross.status, 400)
    const https = await call("POST", "/v1/web/session", { body: { password: TEST_PASSWORD }, headers: { "x-forwarded-proto": "https" } })
    assert.strictEqual(https.status, 201)
    assert.match(https.headers.get("set-cookie") ?? "", /; Secure/)
  })

  it("sign-out revokes the session token and clears the cookie; header tokens cannot sign out here", async () => {
    const signIn = await call("POST", "/v1/web/session", { body: { password: TEST_PASSWORD } })
    const cookie = cookieOf(signIn)
    const csrf = String(signIn.json["csrf"])
    const withoutCsrf = await call("DELETE", "/v1/web/session", { headers: { cookie } })
    assert.strictEqual(withoutCsrf.status, 403)
    const out = await call("DELETE", "/v1/web/session", { headers: { cookie, "x-tether-csrf": csrf } })
    assert.strictEqual(out.status, 200)
    assert.match(out.headers.get("set-cookie") ?? "", /^tether_session=; Max-Age=0/)
    const after = await call("GET", "/v1/web/session", { headers: { cookie } })
    assert.strictEqual(after.status, 401)
    assert.strictEqual(after.json["reason"], "revoked")

    const admin = await issue("admin")
    const viaHeader = await call("DELETE", "/v1/web/session", { headers: { authorization: `Bearer ${admin}` } })
    assert.strictEqual(viaHeader.status, 400)
    assert.strictEqual((await call("GET", "/api/cli/whoami", { headers: { authorization: `Bearer ${admin}` } })).status, 200)
  })
})

describe("static files", () => {
  const assertSecurityHeaders = (answer: Answer) => {
    assert.strictEqual(answer.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY)
    assert.strictEqual(answer.headers.get("x-content-type-options"), "nosniff")
  }

  it("/ and client routes answer index.html with the CSP; hashed assets are cached for a year", async () => {
    for (const path of ["/", "/sessions", "/sessions/ses_abc", "/tokens", "/login"]) {
      const page = await call("GET", path)
      assert.strictEqual(page.status, 200, path)
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/)
      assert.include(page.text, "<div id=\"app\">")
      assert.strictEqual(page.headers.get("cache-control"), "no-cache")
      assertSecurityHeaders(page)
    }
    assert.match(CONTENT_SECURITY_POLICY, /script-src 'self'/)
    assert.notMatch(CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval/)

    const assets = readdirSync(join(webRoot, "assets"))
    const script = assets.find((name) => name.endsWith(".js"))
    assert.isDefined(script)
    const js = await call("GET", `/assets/${script}`)
    assert.strictEqual(js.status, 200)
    assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/)
    assert.strictEqual(js.headers.get("cache-control"), "public, max-age=31536000, immutable")
    assertSecurityHeaders(js)
  })

  it("unknown files are 404, never index.html, and API paths stay JSON", async () => {
    const missing = await call("GET", "/assets/nope.js")
    assert.strictEqual(missing.status, 404)
    const traversal = await call("GET", "/assets/..%2f..%2fpackage.json")
    assert.strictEqual(traversal.status, 404)
    const api = await call("GET", "/v1/nothing-here")
    assert.strictEqual(api.status, 404)
    assert.notInclude(api.text, "<div id=\"app\">")
    const unauthenticated = await call("GET", "/v1/sessions")
    assert.strictEqual(unauthenticated.status, 401)
  })

  it("the built page holds no inline script or style", async () => {
    const page = await call("GET", "/")
    assert.notMatch(page.text, /<script(?![^>]*\bsrc=)[^>]*>/)
    assert.notMatch(page.text, /<style/)
    assert.notMatch(page.text, /\sstyle=/)
  })
})

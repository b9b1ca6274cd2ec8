/**
 * The web UI's sign-in: a browser trades the management password (through the
 * same lockout as `tether connect`) or an existing access token for a
 * short-lived access token of its own, which the server keeps in the
 * HttpOnly, SameSite=Strict cookie `tether_session`. The JSON body never
 * carries that token: it carries the CSRF token the app must send as
 * `X-Tether-CSRF` on every request that is not a GET.
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as Schema from "effect/Schema"
import { InvalidPassword, InvalidRequest, TooManyAttempts, Unauthorized } from "../errors.js"
import { Inferred, Public, type RouteRule, RouteRuleAnnotation } from "../route-rule.js"
import { Scope } from "../scope.js"

/** Name of the cookie that holds a web session's access token. */
export const WEB_SESSION_COOKIE = "tether_session"
/** Header carrying the CSRF token on cookie-authenticated requests that are not GET/HEAD/OPTIONS. */
export const CSRF_HEADER = "x-tether-csrf"

/** Signing out needs only read scope: a read-only session must be able to end itself. */
export const ReadScoped: RouteRule = { _tag: "Scoped", scope: "read", loopbackOnly: false }

export const WebSignIn = Schema.Union(
  Schema.Struct({ password: Schema.Redacted(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1024))) }),
  Schema.Struct({ token: Schema.Redacted(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1024))) })
)
export type WebSignIn = typeof WebSignIn.Type

export class WebSessionInfo extends Schema.Class<WebSessionInfo>("WebSessionInfo")({
  /** The access token behind the session (its id and masked prefix; never the secret). */
  tokenId: Schema.String,
  name: Schema.String,
  prefix: Schema.String,
  scope: Scope,
  expiresAt: Schema.NullOr(Schema.DateTimeUtc),
  /** Send as `X-Tether-CSRF` on every non-GET request made with the cookie. */
  csrf: Schema.String,
  /** Whether this request was authenticated by the session cookie (false: a header token). */
  cookie: Schema.Boolean
}) {}

export class WebApi extends HttpApiGroup.make("web")
  .add(
    HttpApiEndpoint.post("signIn", "/v1/web/session")
      .setPayload(WebSignIn)
      .addSuccess(WebSessionInfo, { status: 201 })
      .addError(InvalidPassword)
      .addError(TooManyAttempts)
      .addError(Unauthorized)
      .addError(InvalidRequest)
      .annotate(RouteRuleAnnotation, Public)
  )
  .add(
    HttpApiEndpoint.get("current", "/v1/web/session")
      .addSuccess(WebSessionInfo)
      .annotate(RouteRuleAnnotation, Inferred)
  )
  .add(
    HttpApiEndpoint.del("signOut", "/v1/web/session")
      .addSuccess(Schema.Struct({ signedOut: Schema.Literal(true) }))
      .addError(InvalidRequest)
      .annotate(RouteRuleAnnotation, ReadScoped)
  )
{}

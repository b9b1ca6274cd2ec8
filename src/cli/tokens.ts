/** `tether tokens create | list | revoke | scopes` and `tether whoami`. */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { AccessTokenInfo } from "../domain/access-token.js"
import { allScopes, describeScope } from "../domain/scope.js"
import { formatTime, printJson, printTable } from "./output.js"
import { withClient } from "./remote.js"
import { resolveTarget, targetOptions } from "./target.js"

const jsonOption = Options.boolean("json").pipe(Options.withDescription("print JSON"))
const scopeOption = Options.choice("scope", allScopes).pipe(Options.withDescription("read, write or admin"))
const expiresOption = Options.integer("expires").pipe(
  Options.withDescription("expire after this many days (1–3650); default never"),
  Options.optional
)

const isoOrNull = (value: DateTime.Utc | null) => (value === null ? null : DateTime.formatIso(value))

/** A token as scripts see it in --json output (never the secret). */
export const tokenJson = (t: AccessTokenInfo) => ({
  id: t.id,
  name: t.name,
  prefix: t.prefix,
  scope: t.scope,
  status: t.status,
  createdAt: DateTime.formatIso(t.createdAt),
  lastUsedAt: isoOrNull(t.lastUsedAt),
  expiresAt: isoOrNull(t.expiresAt),
  revokedAt: isoOrNull(t.revokedAt),
  createdBy: t.createdBy
})

const create = Command.make(
  "create",
  {
    ...targetOptions,
    name: Options.text("name").pipe(Options.withDescription("what the token is for")),
    scope: scopeOption.pipe(Options.withDefault("read" as const)),
    expires: expiresOption,
    json: jsonOption
  },
  (opts) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget(opts)
      const created = yield* withClient(target, (client) =>
        client.cli.createToken({
          payload: {
            name: opts.name,
            scope: opts.scope,
            ...(Option.isSome(opts.expires) ? { expiresInDays: opts.expires.value } : {})
          }
        }))
      if (opts.json) {
        return yield* printJson({ token: Redacted.value(created.token), ...tokenJson(created.info) })
      }
      yield* Console.log(Redacted.value(created.token))
      yield* Console.error(
        `Created ${created.info.scope} token "${created.info.name}" (${created.info.id}). ` +
          `Copy it now: it is shown only once and cannot be recovered.`
      )
    })
).pipe(Command.withDescription("create an access token (the secret is printed once)"))

const list = Command.make("list", { ...targetOptions, json: jsonOption }, (opts) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(opts)
    const { tokens } = yield* withClient(target, (client) => client.cli.listTokens())
    if (opts.json) return yield* printJson(tokens.map(tokenJson))
    yield* printTable(
      [
        { header: "ID", get: (t: AccessTokenInfo) => t.id },
        { header: "NAME", get: (t: AccessTokenInfo) => t.name },
        { header: "TOKEN", get: (t: AccessTokenInfo) => `${t.prefix}…` },
        { header: "SCOPE", get: (t: AccessTokenInfo) => t.scope },
        { header: "STATUS", get: (t: AccessTokenInfo) => t.status },
        { header: "LAST USED", get: (t: AccessTokenInfo) => formatTime(t.lastUsedAt) },
        { header: "EXPIRES", get: (t: AccessTokenInfo) => formatTime(t.expiresAt) }
      ],
      tokens
    )
  })).pipe(Command.withDescription("list access tokens (masked)"))

const revoke = Command.make(
  "revoke",
  { ...targetOptions, idOrPrefix: Args.text({ name: "ID|PREFIX" }), json: jsonOption },
  (opts) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget(opts)
      const result = yield* withClient(target, (client) => client.cli.revokeToken({ path: { idOrPrefix: opts.idOrPrefix } }))
      const t = result.token
      if (opts.json) return yield* printJson({ ...tokenJson(t), alreadyRevoked: result.alreadyRevoked })
      yield* Console.log(
        result.alreadyRevoked
          ? `${t.scope} token "${t.name}" (${t.prefix}…, ${t.id}) was already revoked at ${formatTime(t.revokedAt)}`
          : `Revoked ${t.scope} token "${t.name}" (${t.prefix}…, ${t.id})`
      )
    })
).pipe(Command.withDescription("revoke a token by id or unambiguous prefix"))

const scopes = Command.make("scopes", { json: jsonOption }, ({ json }) =>
  json
    ? printJson(allScopes.map((scope) => ({ scope, allows: describeScope[scope] })))
    : printTable(
      [
        { header: "SCOPE", get: (s: (typeof allScopes)[number]) => s },
        { header: "ALLOWS", get: (s: (typeof allScopes)[number]) => describeScope[s] }
      ],
      allScopes
    )).pipe(Command.withDescription("explain the scopes: read ⊂ write ⊂ admin"))

export const tokensCommand = Command.make("tokens").pipe(
  Command.withDescription("manage access tokens of the active server (admin)"),
  Command.withSubcommands([create, list, revoke, scopes])
)

export const whoamiCommand = Command.make("whoami", { ...targetOptions, json: jsonOption }, (opts) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(opts)
    const me = yield* withClient(target, (client) => client.cli.whoami())
    if (opts.json) {
      return yield* printJson({
        context: target.contextName,
        server: target.server,
        tokenId: me.tokenId,
        name: me.name,
        prefix: me.prefix,
        scope: me.scope,
        createdAt: DateTime.formatIso(me.createdAt),
        expiresAt: isoOrNull(me.expiresAt),
        serverVersion: me.server.version
      })
    }
    yield* Console.log(
      [
        `context:  ${target.contextName}`,
        `server:   ${target.server} (tether ${me.server.version})`,
        `token:    ${me.name} (${me.prefix}…, ${me.tokenId})`,
        `scope:    ${me.scope}`,
        `expires:  ${formatTime(me.expiresAt)}`
      ].join("\n")
    )
  })).pipe(Command.withDescription("show which token and scope the active context uses"))

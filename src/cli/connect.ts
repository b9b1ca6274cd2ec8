/**
 * `tether connect HOST`: trade the management password (or validate an
 * existing token with --key) for a scoped access token and save it as the
 * active context.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as NodeOs from "node:os"
import { allScopes, type Scope } from "../domain/scope.js"
import { contextNameFromServer, parseServerAddress } from "../domain/server-url.js"
import { maskSecret, parseToken } from "../domain/token-format.js"
import { ContextRepo } from "../services/contexts/ContextRepo.js"
import { InvalidAccessToken } from "./errors.js"
import { withClient } from "./remote.js"
import { readSecret } from "./secret-input.js"

export const connectCommand = Command.make(
  "connect",
  {
    host: Args.text({ name: "HOST" }).pipe(
      Args.withDescription("server: a host (port 7337), host:port, or an http(s):// URL")
    ),
    port: Options.integer("port").pipe(Options.withDescription("port, when HOST does not name one"), Options.optional),
    name: Options.text("name").pipe(
      Options.withDescription("context name (default: the host with dots as dashes)"),
      Options.optional
    ),
    scope: Options.choice("scope", allScopes).pipe(
      Options.withDescription("scope of the token to request (default admin)"),
      Options.withDefault("admin" as Scope)
    ),
    key: Options.redacted("key").pipe(
      Options.withDescription("use this existing access token instead of the password"),
      Options.optional
    ),
    expires: Options.integer("expires").pipe(
      Options.withDescription("token lifetime in days (default: no expiry)"),
      Options.optional
    ),
    passwordStdin: Options.boolean("password-stdin").pipe(
      Options.withDescription("read the management password from stdin")
    )
  },
  (opts) =>
    Effect.gen(function*() {
      const server = yield* parseServerAddress(opts.host, { port: Option.getOrUndefined(opts.port) })
      const contextName = Option.getOrElse(opts.name, () => contextNameFromServer(server))
      const repo = yield* ContextRepo

      let token: Redacted.Redacted<string>
      let scope: Scope
      if (Option.isSome(opts.key)) {
        const parsed = parseToken(Redacted.value(opts.key.value), "access")
        if (Either.isLeft(parsed)) {
          return yield* new InvalidAccessToken({ source: "--key", reason: parsed.left.reason, error: parsed.left.message })
        }
        token = Redacted.make(parsed.right.token)
        const me = yield* withClient({ server, token: Option.some(token) }, (client) => client.cli.whoami())
        scope = me.scope
      } else {
        const password = yield* readSecret("management password", {
          fromStdin: opts.passwordStdin,
          flag: "--password-stdin"
        })
        const created = yield* withClient({ server, token: Option.none() }, (client) =>
          client.cli.connect({
            payload: {
              password,
              name: `cli ${NodeOs.userInfo().username}@${NodeOs.hostname()}`.slice(0, 100),
              scope: opts.scope,
              ...(Option.isSome(opts.expires) ? { expiresInDays: opts.expires.value } : {})
            }
          }))
        token = created.token
        scope = created.info.scope
      }

      yield* repo.upsert(contextName, { server, accessToken: Redacted.value(token), scope }, { activate: true })
      yield* Console.log(`Connected to ${server} as context "${contextName}" (scope ${scope}).`)
      yield* Console.log(`Token ${maskSecret(Redacted.value(token))} saved to ${repo.path}; "${contextName}" is now the active context.`)
    })
).pipe(Command.withDescription("log in to a server and save it as the active context"))

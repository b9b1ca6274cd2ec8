/**
 * The remote-access lifecycle end to end, through the bundled CLI against a
 * real server process — once on SQLite and once on a fresh PostgreSQL
 * database:
 *
 *   connect (password on stdin) → the new context is current → create a read
 *   token → it can read (whoami) but not administer (tokens create / list:
 *   exit 4) → revoke it by its listed prefix → it is refused as revoked
 *   (exit 4) → switch back to default → remove the context → it is gone.
 *
 * Along the way: secrets live only in config.json (0600); list/show/current
 * and `tokens list` print only masked prefixes; the server never logs a token.
 */
import { readFileSync } from "node:fs"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { serverBackends } from "../support/server-backends.js"
import { freeTempHome, type RunningServer, startServer, type TempHome } from "../support/processes.js"
import {
  cliFails,
  cliJson,
  cliOk,
  configPath,
  connectArgs,
  masked,
  modeOf,
  readConfig,
  tokensIn,
  waitUntil
} from "./helpers.js"

const backends = await serverBackends("remote lifecycle")

const CONTEXT = "127-0-0-1"

interface ContextJson {
  readonly name: string
  readonly server: string
  readonly accessToken: string | null
  readonly scope: string | null
  readonly active: boolean
}

interface TokenJson {
  readonly id: string
  readonly name: string
  readonly prefix: string
  readonly scope: string
  readonly status: string
}

for (const backend of backends) {
  describe.skipIf(backend.unavailable !== undefined)(`remote lifecycle through the CLI bundle (${backend.name})`, () => {
    let home: TempHome
    let server: RunningServer | undefined

    beforeAll(async () => {
      home = freeTempHome()
      server = await startServer({ home: home.dir, env: await backend.database() })
    })

    afterAll(async () => {
      try {
        if (server !== undefined) {
          const code = await server.stop()
          assert.strictEqual(code, 0, `server did not stop gracefully\n${server.output()}`)
        }
      } finally {
        await backend.teardown()
        await home?.cleanup()
      }
    })

    it("connects, issues a read token, enforces its scope, revokes it and forgets the context", async () => {
      if (server === undefined) throw new Error("the server did not start")
      const opts = { home: home.dir }
      const issued: Array<string> = []

      const running = server
      await waitUntil(`"database: ${backend.name}" from the server`, () =>
        new RegExp(`database: ${backend.name}\\b`).test(running.output()))
      const password = server.password
      assert.isDefined(password, `no generated password printed\n${server.output()}`)

      // connect with the password on stdin: a new context, saved and activated
      const connect = await cliOk(connectArgs(server.port), { ...opts, input: `${password}\n` })
      assert.include(connect.stdout, `context "${CONTEXT}"`)
      assert.deepStrictEqual(tokensIn(connect.stdout + connect.stderr), [], "connect printed a full token")

      const current = await cliOk(["contexts", "current"], opts)
      assert.strictEqual(current.stdout.trim(), CONTEXT)

      // the secret is in config.json (0600) and nowhere in the context commands' output
      assert.strictEqual(modeOf(configPath(home.dir)), 0o600)
      const adminToken = readConfig(home.dir).contexts[CONTEXT]?.accessToken
      assert.isString(adminToken)
      issued.push(adminToken!)
      assert.match(adminToken!, /^tat_[A-Za-z0-9]+$/)
      const currentJson = await cliJson<ContextJson>(["contexts", "current", "--json"], opts)
      assert.strictEqual(currentJson.name, CONTEXT)
      assert.strictEqual(currentJson.server, server.url)
      assert.strictEqual(currentJson.scope, "admin")
      assert.strictEqual(currentJson.accessToken, masked(adminToken!))
      for (
        const args of [
          ["contexts", "list"],
          ["contexts", "list", "--json"],
          ["contexts", "show", CONTEXT],
          ["contexts", "show", CONTEXT, "--json"],
          ["contexts", "current"],
          ["contexts", "current", "--json"],
          ["whoami"],
          ["whoami", "--json"]
        ]
      ) {
        const result = await cliOk(args, opts)
        assert.deepStrictEqual(tokensIn(result.stdout + result.stderr), [], `tether ${args.join(" ")} printed a secret`)
        if (args[0] === "contexts" && args[1] !== "current") assert.include(result.stdout, masked(adminToken!))
      }

      // a read token: the secret is printed once on stdout, nothing else there
      const created = await cliOk(["tokens", "create", "--name", "reader", "--scope", "read"], opts)
      const readToken = created.stdout.trim()
      assert.match(readToken, /^tat_[A-Za-z0-9]+$/, `stdout is not just the secret: ${created.stdout}`)
      issued.push(readToken)
      const createdJson = await cliJson<TokenJson & { token: string }>(
        ["tokens", "create", "--name", "reader-json", "--scope", "read", "--json"],
        opts
      )
      assert.match(createdJson.token, /^tat_[A-Za-z0-9]+$/)
      assert.strictEqual(createdJson.scope, "read")
      issued.push(createdJson.token)

      // it can read: whoami through --token and through TETHER_TOKEN
      const viaFlag = await cliJson<{ scope: string; name: string; prefix: string }>(
        ["whoami", "--json", "--token", readToken],
        opts
      )
      assert.strictEqual(viaFlag.scope, "read")
      assert.strictEqual(viaFlag.name, "reader")
      const viaEnv = await cliJson<{ scope: string; name: string }>(["whoami", "--json"], {
        ...opts,
        env: { TETHER_TOKEN: readToken }
      })
      assert.strictEqual(viaEnv.scope, "read")
      assert.strictEqual(viaEnv.name, "reader")

      // it cannot administer: refused with exit 4 and a message naming both scopes
      const refusedCreate = await cliFails(["tokens", "create", "--name", "sneaky", "--token", readToken], 4, opts)
      assert.match(refusedCreate.line, /admin/)
      assert.match(refusedCreate.line, /\bread\b/)
      const refusedList = await cliFails(["tokens", "list"], 4, { ...opts, env: { TETHER_TOKEN: readToken } })
      assert.match(refusedList.line, /admin/)

      // tokens list (admin): masked prefixes only, never a full secret
      const listText = await cliOk(["tokens", "list"], opts)
      assert.deepStrictEqual(tokensIn(listText.stdout + listText.stderr), [], "tokens list printed a secret")
      assert.include(listText.stdout, masked(readToken))
      const listed = await cliJson<Array<TokenJson>>(["tokens", "list", "--json"], opts)
      const listJsonText = JSON.stringify(listed)
      for (const token of issued) assert.notInclude(listJsonText, token)
      const reader = listed.find((t) => t.name === "reader")
      assert.isDefined(reader, listJsonText)
      assert.strictEqual(reader!.status, "active")
      assert.isTrue(readToken.startsWith(reader!.prefix), `${reader!.prefix} is not a prefix of the issued token`)
      assert.match(reader!.prefix, /^tat_[A-Za-z0-9]{1,6}$/)

      // revoke by the listed prefix
      const revoked = await cliOk(["tokens", "revoke", reader!.prefix], opts)
      assert.match(revoked.stdout + revoked.stderr, /[Rr]evoked/)
      assert.deepStrictEqual(tokensIn(revoked.stdout + revoked.stderr), [])
      const afterRevoke = await cliJson<Array<TokenJson>>(["tokens", "list", "--json"], opts)
      assert.strictEqual(afterRevoke.find((t) => t.id === reader!.id)?.status, "revoked")
      assert.strictEqual(afterRevoke.find((t) => t.name === "reader-json")?.status, "active", "revoked the wrong token")

      // using it again is refused as revoked, however it is passed
      const refusedRevoked = await cliFails(["whoami", "--token", readToken], 4, opts)
      assert.match(refusedRevoked.line, /revoked/)
      const refusedRevokedEnv = await cliFails(["whoami"], 4, { ...opts, env: { TETHER_TOKEN: readToken } })
      assert.match(refusedRevokedEnv.line, /revoked/)
      // ... while the other read token still works
      await cliOk(["whoami", "--token", createdJson.token], opts)

      // back to default, remove the context, and it is gone
      await cliOk(["contexts", "use", "default"], opts)
      await cliOk(["contexts", "remove", CONTEXT, "--yes"], opts)
      const contexts = await cliJson<{ currentContext: string; contexts: Array<ContextJson> }>(
        ["contexts", "list", "--json"],
        opts
      )
      assert.strictEqual(contexts.currentContext, "default")
      assert.deepStrictEqual(contexts.contexts.map((c) => c.name), ["default"])
      const file = readFileSync(configPath(home.dir), "utf8")
      assert.deepStrictEqual(tokensIn(file), [], "the removed context's token is still in config.json")
      assert.strictEqual(modeOf(configPath(home.dir)), 0o600)

      // the server never logged a token (stop it first so all its output is in)
      const code = await server.stop()
      assert.strictEqual(code, 0, server.output())
      const log = server.output()
      assert.deepStrictEqual(tokensIn(log), [], `the server printed a token:\n${log}`)
      for (const token of issued) assert.notInclude(log, token)
    }, 45_000)
  })
}

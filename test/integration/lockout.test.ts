/**
 * Password lockout end to end: five wrong management passwords from one
 * address lock it out (429 with Retry-After), so even the right password is
 * refused; the lockout is audited, readable with an admin token made
 * beforehand, and it survives a server restart on the same database.
 */
import { afterEach, assert, describe, it } from "vitest"
import { freeTempHome, runCli, type RunningServer, startServer, type TempHome } from "../support/processes.js"
import { cliFails, cliJson, cliOk, connectArgs, describeRun } from "./helpers.js"

const TOO_MANY = /too many/i

interface AuditJson {
  readonly entries: ReadonlyArray<{ action: string; outcome: string; peer: string | null; detail: string }>
}

describe("password lockout through the CLI bundle", () => {
  const servers: Array<RunningServer> = []
  const homes: Array<TempHome> = []

  afterEach(async () => {
    for (const server of servers.splice(0)) await server.stop()
    for (const home of homes.splice(0)) await home.cleanup()
  })

  const start = async (home: TempHome, port?: number): Promise<RunningServer> => {
    const server = await startServer({ home: home.dir, ...(port === undefined ? {} : { port }) })
    servers.push(server)
    return server
  }

  it("locks an address out after five wrong passwords, audits it, and keeps it across a restart", async () => {
    const home = freeTempHome()
    homes.push(home)
    const opts = { home: home.dir }
    const first = await start(home)
    const password = first.password
    assert.isDefined(password, first.output())

    // an admin context, made before the lockout
    await cliOk(connectArgs(first.port), { ...opts, input: `${password}\n` })

    // four wrong passwords: refused as wrong, not yet locked out
    for (let attempt = 1; attempt <= 4; attempt++) {
      const args = connectArgs(first.port, ["--name", `wrong-${attempt}`])
      const result = await runCli(args, { ...opts, input: "definitely-not-the-password\n" })
      assert.notStrictEqual(result.code, 0, describeRun(args, result))
      assert.match(result.stderr, /^tether: .*wrong management password/m, describeRun(args, result))
      assert.notMatch(result.stderr, TOO_MANY, describeRun(args, result))
    }

    // the fifth wrong one trips the lockout ...
    const fifth = await cliFails(connectArgs(first.port, ["--name", "wrong-5"]), "non-zero", {
      ...opts,
      input: "definitely-not-the-password\n"
    })
    assert.match(fifth.line, TOO_MANY)

    // ... and now the right password is refused too
    const sixth = await cliFails(connectArgs(first.port, ["--name", "right-but-locked"]), "non-zero", {
      ...opts,
      input: `${password}\n`
    })
    assert.match(sixth.line, TOO_MANY)

    // on the wire: 429 with Retry-After
    const response = await fetch(`${first.url}/api/cli/connect`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ password })
    })
    const body = await response.json() as { _tag?: string; retryAfterSeconds?: number }
    assert.strictEqual(response.status, 429)
    assert.strictEqual(body._tag, "TooManyAttempts")
    const retryAfter = Number(response.headers.get("retry-after"))
    assert.isTrue(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After: ${response.headers.get("retry-after")}`)

    // no context was saved by the refused attempts
    const contexts = await cliJson<{ contexts: Array<{ name: string }> }>(["contexts", "list", "--json"], opts)
    assert.deepStrictEqual(contexts.contexts.map((c) => c.name).sort(), ["127-0-0-1", "default"])

    // the admin token still works and the audit log shows the lockout
    const audit = await cliJson<AuditJson>(["audit", "--action", "connect.lockout", "--json"], opts)
    assert.isAtLeast(audit.entries.length, 1, JSON.stringify(audit))
    for (const entry of audit.entries) {
      assert.strictEqual(entry.action, "connect.lockout")
      assert.strictEqual(entry.peer, "127.0.0.1")
    }

    // restart on the same TETHER_HOME (same SQLite file) and port: still locked
    assert.strictEqual(await first.stop(), 0, first.output())
    const second = await start(home, first.port)
    const afterRestart = await cliFails(connectArgs(second.port, ["--name", "after-restart"]), "non-zero", {
      ...opts,
      input: `${password}\n`
    })
    assert.match(afterRestart.line, TOO_MANY)
    const auditAfter = await cliJson<AuditJson>(["audit", "--action", "connect.lockout", "--json"], opts)
    assert.isAtLeast(auditAfter.entries.length, audit.entries.length)
  }, 40_000)

  // The CLI's exit codes say 4 = authentication (HTTP 401/403); the server answers a wrong password with 401.
  it("reports a wrong password as an authentication failure (exit 4)", async () => {
    const home = freeTempHome()
    homes.push(home)
    const server = await start(home)
    const wrong = await cliFails(connectArgs(server.port), 4, { home: home.dir, input: "definitely-not-the-password\n" })
    assert.match(wrong.line, /wrong management password/)
  }, 20_000)
})

/**
 * The background server and the local failure modes, through the CLI bundle:
 *
 * - `server start` daemonizes: prints the generated password once (never into
 *   the log), the URL and the log path; `server status` reports it; files are
 *   0600; a second `start` says it is already running; `server stop` stops it
 *   and `status` then exits 3.
 * - `server password` rotates the password in the local database while the
 *   server runs: the old one stops working, the new one works.
 * - An unreachable server is exit 3 with a line naming its URL.
 * - A corrupt config.json is reported with its path and never rewritten.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, afterEach, assert, describe, it } from "vitest"
import { cliPath, freeTempHome, runCli, type TempHome } from "../support/processes.js"
import {
  cliFails,
  cliJson,
  cliOk,
  configPath,
  connectArgs,
  describeRun,
  freePort,
  isAlive,
  modeOf,
  tokensIn,
  waitUntil
} from "./helpers.js"

const packageVersion = (JSON.parse(readFileSync(join(cliPath, "..", "..", "package.json"), "utf8")) as {
  version: string
}).version

const homes: Array<TempHome> = []
const newHome = (): TempHome => {
  const home = freeTempHome()
  homes.push(home)
  return home
}

afterAll(async () => {
  for (const home of homes.splice(0)) await home.cleanup()
})

describe("tether server start | status | stop | password", () => {
  let daemonPid: number | undefined

  afterEach(async () => {
    // A daemon is not our child: kill it by its pid if a failed test left it running.
    if (daemonPid !== undefined && isAlive(daemonPid)) {
      process.kill(daemonPid, "SIGKILL")
      await waitUntil(`daemon ${daemonPid} to die`, () => !isAlive(daemonPid!), 5_000).catch(() => undefined)
    }
    daemonPid = undefined
  })

  it("daemonizes, reports status, keeps its files private, rotates the password and stops", async () => {
    const home = newHome()
    const opts = { home: home.dir }
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const logPath = join(home.dir, "server.log")
    const statePath = join(home.dir, "server.json")

    // start: password shown once, then the URL and the log
    const started = await cliOk(["server", "start", "--port", String(port)], opts)
    const pid = Number(/Tether server started \(pid (\d+)\): (\S+)/.exec(started.stdout)?.[1])
    assert.isTrue(pid > 0, describeRun(["server", "start"], started))
    daemonPid = pid
    assert.include(started.stdout, `Tether server started (pid ${pid}): ${url}\n`)
    assert.include(started.stdout, `log: ${logPath}`)
    const passwords = [...started.stdout.matchAll(/Management password \(shown once\): (\S+)/g)].map((m) => m[1]!)
    assert.strictEqual(passwords.length, 1, started.stdout)
    const firstPassword = passwords[0]!
    assert.strictEqual(started.stdout.split(firstPassword).length - 1, 1, "the password was printed more than once")
    assert.isTrue(isAlive(pid))

    // status, as JSON and as text
    const status = await cliJson<Record<string, unknown>>(["server", "status", "--json"], opts)
    assert.strictEqual(status["running"], true)
    assert.strictEqual(status["url"], url)
    assert.strictEqual(status["pid"], pid)
    assert.strictEqual(status["version"], packageVersion)
    assert.strictEqual(status["database"], "sqlite")
    assert.isNumber(status["uptimeSeconds"])
    assert.isAtLeast(status["uptimeSeconds"] as number, 0)
    const statusText = await cliOk(["server", "status"], opts)
    assert.include(statusText.stdout, url)
    assert.include(statusText.stdout, String(pid))

    // state and log files: present, 0600, and the log never saw the password
    assert.isTrue(existsSync(logPath) && existsSync(statePath))
    assert.strictEqual(modeOf(logPath), 0o600)
    assert.strictEqual(modeOf(statePath), 0o600)
    assert.notInclude(readFileSync(logPath, "utf8"), firstPassword)

    // a second start finds it running and starts nothing
    const again = await cliOk(["server", "start", "--port", String(port)], opts)
    assert.match(again.stdout + again.stderr, /already running/)
    assert.include(again.stdout + again.stderr, `pid ${pid}`)
    assert.notMatch(again.stdout, /Management password/)
    assert.strictEqual((await cliJson<{ pid: number }>(["server", "status", "--json"], opts)).pid, pid)

    // the first password works
    await cliOk(connectArgs(port, ["--name", "first"]), { ...opts, input: `${firstPassword}\n` })

    // rotate (generated): the old password is refused, the new one works
    const rotated = await cliOk(["server", "password"], opts)
    const secondPassword = /New management password \(shown once\): (\S+)/.exec(rotated.stdout)?.[1]
    assert.isDefined(secondPassword, rotated.stdout)
    assert.notStrictEqual(secondPassword, firstPassword)
    const old = await cliFails(connectArgs(port, ["--name", "old"]), "non-zero", { ...opts, input: `${firstPassword}\n` })
    assert.match(old.line, /wrong management password/)
    await cliOk(connectArgs(port, ["--name", "second"]), { ...opts, input: `${secondPassword}\n` })

    // rotate (chosen, on stdin): too short is a usage error, a good one works
    await cliFails(["server", "password", "--password-stdin"], 2, { ...opts, input: "short\n" })
    const chosen = "a-chosen-password-for-the-test"
    const changed = await cliOk(["server", "password", "--password-stdin"], { ...opts, input: `${chosen}\n` })
    assert.notInclude(changed.stdout + changed.stderr, chosen)
    await cliOk(connectArgs(port, ["--name", "chosen"]), { ...opts, input: `${chosen}\n` })
    await cliOk(["whoami"], opts)

    // nothing secret reached the log
    const log = readFileSync(logPath, "utf8")
    for (const secret of [firstPassword, secondPassword!, chosen]) assert.notInclude(log, secret)
    assert.deepStrictEqual(tokensIn(log), [], `the server log holds a token:\n${log}`)

    // stop: gone, state file removed, status exits 3
    const stopped = await cliOk(["server", "stop"], opts)
    assert.include(stopped.stdout, `pid ${pid}`)
    assert.isFalse(isAlive(pid), "the daemon is still alive after `server stop`")
    assert.isFalse(existsSync(statePath), "server.json left behind")
    const down = await runCli(["server", "status"], opts)
    assert.strictEqual(down.code, 3, describeRun(["server", "status"], down))
    assert.match(down.stdout + down.stderr, /not running/)
    const downJson = await runCli(["server", "status", "--json"], opts)
    assert.strictEqual(downJson.code, 3, describeRun(["server", "status", "--json"], downJson))
    assert.deepStrictEqual(JSON.parse(downJson.stdout), { running: false })
  }, 45_000)
})

describe("local failure modes", () => {
  it("an unreachable server is exit 3 with a line naming its URL", async () => {
    const home = newHome()
    const url = `http://127.0.0.1:${await freePort()}` // free, so nothing listens there
    const viaFlag = await cliFails(["whoami", "--server", url], 3, { home: home.dir })
    assert.include(viaFlag.line, url)
    const viaEnv = await cliFails(["whoami", "--json"], 3, { home: home.dir, env: { TETHER_SERVER: url } })
    assert.include(viaEnv.line, url)
    assert.strictEqual(viaEnv.result.stdout, "")
  })

  it("a corrupt config.json is reported with its path and left byte-for-byte unchanged", async () => {
    const home = newHome()
    const path = configPath(home.dir)
    const corrupt = Buffer.from("{oops")
    writeFileSync(path, corrupt, { mode: 0o600 })
    for (
      const args of [
        ["contexts", "list"],
        ["contexts", "list", "--json"],
        ["contexts", "current"],
        ["contexts", "use", "default"],
        ["contexts", "remove", "prod", "--yes"],
        ["whoami"]
      ]
    ) {
      const failed = await cliFails(args, "non-zero", { home: home.dir })
      assert.include(failed.line, path, `tether ${args.join(" ")}`)
      assert.deepStrictEqual(readFileSync(path), corrupt, `tether ${args.join(" ")} changed ${path}`)
    }
    const added = await cliFails(["contexts", "add", "other", "--url", "http://127.0.0.1:1"], "non-zero", {
      home: home.dir
    })
    assert.include(added.line, path)
    assert.deepStrictEqual(readFileSync(path), corrupt)
  })
})

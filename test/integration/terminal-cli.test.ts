/**
 * `tether run -- CMD`, `tether attach` and `tether control` as a user runs
 * them: the built CLI inside a real PTY (node-pty) against a real server
 * process and a real `tether host` process.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import * as pty from "node-pty"
import { cliPath, childEnv, freeTempHome, runCli, startServer, type RunningServer, type TempHome } from "../support/processes.js"
import { openViewer } from "../support/terminal-viewer.js"
import { connectArgs, readConfig, waitUntil } from "./helpers.js"

interface PtyRun {
  readonly output: () => string
  readonly write: (text: string) => void
  readonly exit: Promise<number>
  readonly kill: () => void
}

/** The CLI in a pseudo-terminal, as a user at a keyboard would run it. */
const inPty = (args: ReadonlyArray<string>, home: string, cols = 100, rows = 30): PtyRun => {
  const child = pty.spawn(process.execPath, [cliPath, ...args], { cols, rows, cwd: home, env: childEnv(home), encoding: "utf8" })
  let output = ""
  child.onData((data) => {
    output += data
  })
  const exit = new Promise<number>((resolve) => child.onExit(({ exitCode }) => resolve(exitCode)))
  return { output: () => output, write: (text) => child.write(text), exit, kill: () => child.kill("SIGKILL") }
}

describe("terminal sessions from the CLI", () => {
  let home: TempHome
  let server: RunningServer
  let host: ReturnType<typeof spawn>

  beforeAll(async () => {
    home = freeTempHome()
    server = await startServer({ home: home.dir })
    const connected = await runCli(connectArgs(server.port), { home: home.dir, input: `${server.password}\n` })
    assert.strictEqual(connected.code, 0, connected.stderr)
    host = spawn(process.execPath, [cliPath, "host", "--name", "here"], { env: childEnv(home.dir), stdio: "ignore", detached: true })
    await waitUntil("the host to come online", () => {
      const listed: unknown = JSON.parse(execFileSync(process.execPath, [cliPath, "hosts", "--json"], { env: childEnv(home.dir) }).toString())
      const hosts = Array.isArray(listed) ? listed : (listed as { hosts: Array<unknown> }).hosts
      return hosts.some((h) => typeof h === "object" && h !== null && "name" in h && h.name === "here" && "online" in h && h.online === true)
    }, 15_000)
  }, 40_000)

  afterAll(async () => {
    if (host?.pid !== undefined) {
      try {
        process.kill(host.pid, "SIGTERM")
      } catch {
        // gone
      }
    }
    await server?.stop()
    await home?.cleanup()
  })

  it("a 21 MB burst through the built server (its mirror in a worker thread): viewers that fall behind are resynced, and every screen ends right", async () => {
    const config = readConfig(home.dir)
    const token = config.contexts[config.currentContext]!.accessToken!
    // Plain output (what the mirror may skip), framed by screen-addressed lines it must parse.
    const program = "printf '\\033[2J\\033[Hheader\\n'; yes 'a plain line of build log' | head -c 20000000; " +
      "printf '\\033[1;20Hmarked\\033[24;1Hthe end'; sleep 60"
    const created = await fetch(`${server.url}/v1/sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ harness: "terminal", hostId: "here", cwd: home.dir, args: ["sh", "-c", program], size: { cols: 80, rows: 24 } })
    })
    assert.strictEqual(created.status, 201, await created.clone().text())
    const sessionId = String(((await created.json()) as { id: string }).id)
    const early = await openViewer(server.url, sessionId, { token })
    const screenEnds = async (viewer: typeof early) => {
      const deadline = Date.now() + 60_000
      for (;;) {
        const screen = await viewer.screen()
        if (screen[23]?.startsWith("the end") === true) return screen
        if (Date.now() > deadline) throw new Error(`the screen never showed the end: ${JSON.stringify(screen)}`)
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    const earlyScreen = await screenEnds(early)
    const late = await openViewer(server.url, sessionId, { token })
    const lateScreen = await screenEnds(late)
    assert.deepStrictEqual(lateScreen, earlyScreen)
    assert.strictEqual(lateScreen[0]!.slice(19), "marked")
    assert.strictEqual(lateScreen[22], "a plain line of build log")
    assert.strictEqual(early.offset(), late.offset())
    early.close()
    late.close()
  }, 90_000)

  it("`tether run -- CMD` runs CMD in a PTY on the host, this terminal attached; the exit status is the program's", async () => {
    const run = inPty(["run", "--host", "here", "--", "sh", "-c", "stty size; printf 'ready\\n'; read x; echo \"typed:$x\"; exit 5"], home.dir, 100, 30)
    await waitUntil("ready", () => run.output().includes("ready"), 15_000)
    assert.include(run.output(), "30 100", "the PTY has this terminal's size (the controller's)")
    const sessions = JSON.parse((await runCli(["sessions", "list", "--json"], { home: home.dir })).stdout) as { sessions: Array<{ id: string; harness: string }> }
    const session = sessions.sessions.find((s) => s.harness === "terminal")
    assert.isDefined(session)
    const watcher = inPty(["attach", "--read-only", session!.id], home.dir)
    await waitUntil("the watcher's view", () => watcher.output().includes("ready"), 15_000)
    watcher.write("ignored\r")
    run.write("abc\r")
    assert.strictEqual(await run.exit, 5)
    assert.include(run.output(), "typed:abc")
    assert.notInclude(run.output(), "typed:ignored")
    await waitUntil("the watcher sees the end", () => watcher.output().includes("typed:abc"), 15_000)
    assert.strictEqual(await watcher.exit, 0)
    assert.include(watcher.output(), "the program exited (code 5)")
  }, 60_000)

  it("Ctrl-\\ detaches and the program keeps running; `tether control` takes it back", async () => {
    const run = inPty(["run", "--host", "here", "--", "sh", "-c", "echo ready; while read line; do echo \"echo:$line\"; done"], home.dir)
    await waitUntil("the program to start", () => run.output().includes("ready"), 15_000)
    run.write("one\r")
    await waitUntil("echo:one", () => run.output().includes("echo:one"), 15_000)
    run.write("\x1c")
    assert.strictEqual(await run.exit, 0)
    assert.include(run.output(), "detached; the session keeps running")
    const id = /tether control (\S+)\)/.exec(run.output())?.[1]
    assert.isDefined(id)
    const again = inPty(["control", id!], home.dir)
    await waitUntil("the screen comes back", () => again.output().includes("echo:one"), 15_000)
    again.write("two\r")
    await waitUntil("echo:two", () => again.output().includes("echo:two"), 15_000)
    again.write("\x04") // EOF ends the loop
    assert.strictEqual(await again.exit, 0)
  }, 60_000)

  it("`--no-relay` runs the program here with nothing sent; a missing command is a clear error", async () => {
    const before = (await runCli(["sessions", "list", "--json"], { home: home.dir })).stdout
    const local = inPty(["run", "--no-relay", "--", "sh", "-c", "echo local-only; exit 3"], home.dir)
    assert.strictEqual(await local.exit, 3)
    assert.include(local.output(), "local-only")
    assert.strictEqual((await runCli(["sessions", "list", "--json"], { home: home.dir })).stdout, before)
    const missing = inPty(["run", "--host", "here", "--", "tether-no-such-program"], home.dir)
    const code = await missing.exit
    assert.notStrictEqual(code, 0)
  }, 60_000)
})

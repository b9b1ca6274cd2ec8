/**
 * The native agent harnesses end to end: a real `tether server run`, a real
 * `tether host` (the CLI bundle) whose environment gives the real `claude`
 * and `codex` CLIs scratch config homes (onboarding done, the working
 * directory trusted) and dummy keys, sessions created over the HTTP API with
 * `--tether-base-url` pointing at the fake model server. For each of
 * claude-native and codex-native:
 *
 *  1. the host reports it ready, naming its credentials and never the key;
 *  2. a viewer over the real terminal WebSocket sees the CLI's prompt and
 *     types a message (text, then Enter);
 *  3. the CLI's model request arrives at the fake server with the model
 *     and the typed text;
 *  4. the scripted answer arrives on the session's SSE stream as a
 *     `message` event read from the CLI's own transcript;
 *  5. stop ends the session (`exited`, `stopped`) and leaves no CLI process.
 *
 * SQLite only: nothing here is about storage.
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, beforeAll, beforeEach, describe, it } from "vitest"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { liveDescendants } from "../support/fake-model-server/agent-fixture.js"
import { type FakeModelServer, startFakeModelServer } from "../support/fake-model-server/index.js"
import { CLAUDE_TEST_KEY, OPENAI_TEST_KEY, plainText, seedClaudeHome, seedCodexHome } from "../support/native-cli-homes.js"
import { freeTempHome, type RunningServer, startServer, type TempHome } from "../support/processes.js"
import { type HostProcess, startHostProcess } from "../support/host-process.js"
import { subscribeSession } from "../support/sse-client.js"
import { openViewer, type TestViewer } from "../support/terminal-viewer.js"
import { cliOk, readConfig } from "./helpers.js"

const PASSWORD = "correct-horse-battery-staple"
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const eventually = async <A>(what: string, check: () => A | undefined | Promise<A | undefined>, timeoutMs = 20_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

const commandLine = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ")
  } catch {
    return ""
  }
}

let fake: FakeModelServer
let home: TempHome
let hostHome: TempHome
let server: RunningServer
let host: HostProcess
let token: string
let workDir: string
let agentHome: string

/** The transcripts the CLIs wrote (for failure messages). */
const transcripts = (): string => {
  try {
    return readdirSync(agentHome, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".jsonl")).join("\n")
  } catch (error) {
    return String(error)
  }
}

const api = async <A = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: A }> => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  return { status: response.status, body: (text === "" ? undefined : JSON.parse(text)) as A }
}

const startHost = (env: Record<string, string>): Promise<HostProcess> =>
  startHostProcess({
    name: "natives",
    home: hostHome.dir,
    env: env,
    isOnline: async () => {
      const { body } = await api<{ hosts: ReadonlyArray<{ name: string; online: boolean }> }>("GET", "/v1/hosts")
      return body.hosts.some((h) => h.name === "natives" && h.online)
    }
  })

beforeAll(async () => {
  fake = await startFakeModelServer()
  home = freeTempHome()
  hostHome = freeTempHome()
  workDir = join(home.dir, "project")
  mkdirSync(workDir)
  server = await startServer({ home: home.dir, env: { TETHER_PASSWORD: PASSWORD } })
  await cliOk(["connect", `127.0.0.1:${server.port}`, "--password-stdin"], { home: home.dir, input: `${PASSWORD}\n` })
  const saved = readConfig(home.dir).contexts["127-0-0-1"]?.accessToken
  if (saved === undefined) throw new Error("tether connect saved no token")
  token = saved
  agentHome = join(hostHome.dir, "agent-home")
  mkdirSync(agentHome)
  host = await startHost({
    TETHER_SERVER: server.url,
    TETHER_TOKEN: token,
    ...seedClaudeHome(agentHome, [workDir]),
    ...seedCodexHome(agentHome, [workDir])
  })
}, 60_000)

afterAll(async () => {
  await host?.stop()
  await server?.stop()
  await fake?.close()
  await home?.cleanup()
  await hostHome?.cleanup()
})

interface NativeCase {
  readonly harness: string
  readonly args: () => ReadonlyArray<string>
  readonly model: string
  readonly modelPath: string
  /** Text on the CLI's screen once it takes input. */
  readonly ready: string
  readonly credential: string
  readonly cliName: string
}

const cases: ReadonlyArray<NativeCase> = [
  {
    harness: "claude-native",
    args: () => ["--tether-base-url", fake.url, "--model", "claude-fake"],
    model: "claude-fake",
    modelPath: "/v1/messages",
    ready: "❯",
    credential: "ANTHROPIC_API_KEY",
    cliName: "claude"
  },
  {
    harness: "codex-native",
    args: () => ["--tether-base-url", `${fake.url}/v1`, "--model", "gpt-fake"],
    model: "gpt-fake",
    modelPath: "/v1/responses",
    ready: "Ask Codex",
    credential: "OPENAI_API_KEY",
    cliName: "codex"
  }
]

const isStatus = (status: string, reason?: string) => (e: SessionEvent) =>
  e.type === "status" && e.status === status && (reason === undefined || e.reason === reason)

describe("native agent harnesses through the server, a real runner and the terminal relay", () => {
  beforeEach(() => fake.clearScript())

  it("the host reports both native harnesses ready, with credentials and endpoint, never a key", async () => {
    const { body } = await api<{ hosts: ReadonlyArray<{ name: string; harnesses: ReadonlyArray<{ name: string; ready: boolean; capabilities: ReadonlyArray<string>; detail: string | null }> }> }>(
      "GET",
      "/v1/hosts"
    )
    const harnesses = body.hosts.find((h) => h.name === "natives")?.harnesses ?? []
    for (const c of cases) {
      const info = harnesses.find((h) => h.name === c.harness)
      assert.isTrue(info?.ready, `${c.harness}: ${JSON.stringify(info)}`)
      assert.include(info?.detail ?? "", c.credential)
      assert.include(info?.capabilities ?? [], "terminal")
    }
    const shown = JSON.stringify(harnesses)
    assert.notInclude(shown, CLAUDE_TEST_KEY)
    assert.notInclude(shown, OPENAI_TEST_KEY)
  })

  for (const c of cases) {
    it(`${c.harness}: a viewer types a message, the CLI asks the model, the answer arrives as a transcript message; stop leaves nothing`, async () => {
      const word = `${c.cliName}-typed-${Date.now()}`
      const answer = `The ${c.cliName} answer is pumpernickel.`
      // Codex asks for a thread title alongside the first turn, in either order: both get the answer.
      fake.script({ kind: "text", text: answer }, { kind: "text", text: answer })
      const created = await api<{ id: string }>("POST", "/v1/sessions", {
        harness: c.harness,
        cwd: workDir,
        args: c.args(),
        size: { cols: 100, rows: 30 }
      })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      const id = created.body.id
      const subscription = subscribeSession(server.url, id, { token, until: () => false })
      subscription.done.catch(() => {})
      const events = () => subscription.records.map((r) => r.event)
      let viewer: TestViewer | undefined
      const explain = (error: unknown): never => {
        throw new Error(
          `${String(error)}\n--- events ---\n${events().map((e) => JSON.stringify(e)).join("\n")}` +
            `\n--- screen ---\n${plainText(viewer?.output() ?? "").slice(-2000)}\n--- host ---\n${host.output().slice(-3000)}\n--- transcripts ---\n${transcripts()}`
        )
      }
      try {
        await eventually("the session running", () => events().find(isStatus("running")), 20_000).catch(explain)
        viewer = await openViewer(server.url, id, { token })
        const v = viewer
        await v.waitFor(`${c.cliName}'s prompt on the viewer's screen`, () => plainText(v.output()).includes(c.ready), 40_000)
          .catch(explain)
        await sleep(500)
        v.type(word)
        await sleep(300)
        v.type("\r")

        const request = await eventually(
          "the CLI's model request at the fake server",
          () => fake.requests.find((r) => r.path === c.modelPath && JSON.stringify(r.body).includes(word)),
          40_000
        ).catch(explain)
        assert.strictEqual((request.body as { model?: string }).model, c.model)

        await eventually(
          "the answer as a message event",
          () => events().find((e) => e.type === "message" && e.role === "assistant" && e.text === answer),
          30_000
        ).catch(explain)
        assert.isDefined(events().find((e) => e.type === "message" && e.role === "user" && e.text === word), "the typed message from the transcript")
        assert.isDefined(events().find((e) => e.type === "agent_session"))

        const cliProcesses = () => liveDescendants(host.child.pid).filter((pid) => commandLine(pid).includes(c.cliName))
        assert.isAbove(cliProcesses().length, 0, "the CLI runs under the host")
        const stopped = await api("POST", `/v1/sessions/${id}/events`, { type: "stop" })
        assert.strictEqual(stopped.status, 202, JSON.stringify(stopped.body))
        await eventually("the session to exit", () => events().find(isStatus("exited", "stopped")), 20_000).catch(explain)
        await eventually("no CLI process left", () => (cliProcesses().length === 0 ? true : undefined), 10_000)
      } finally {
        viewer?.close()
        subscription.close()
      }
    }, 120_000)
  }
})

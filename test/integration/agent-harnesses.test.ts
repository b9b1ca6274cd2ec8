/**
 * The agent-SDK harnesses end to end: a real `tether server run`, a real
 * `tether host` (the CLI bundle) whose environment points the SDKs at the
 * fake model server (dummy keys, scratch agent config directories), sessions
 * created over the HTTP API, and everything observed as domain events on the
 * session's SSE stream. For each harness (claude-sdk, codex, openai-agents,
 * pi):
 *
 *  1. prompt → the model asks for a tool that reads a file in the session's
 *     cwd → the tool's result → the final text; then a stop.
 *  2. (harnesses with approvals) an approval the client denies with a note:
 *     the server records the decision and the model receives the note.
 *  3. an interrupt in the middle of a slow stream: the turn ends promptly
 *     (`idle`, reason `interrupted`) and the model request is aborted.
 *
 * Plus: a runner restart mid-session, after which `SessionManager.adopt`
 * restarts the claude-sdk (and the codex) session and the next message
 * continues the same conversation (the agent_session id travels back in the
 * welcome).
 *
 * SQLite only: nothing here is about storage.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, beforeAll, beforeEach, describe, it } from "vitest"
import type { SessionEvent } from "../../src/domain/session-event.js"
import { liveDescendants } from "../support/fake-model-server/agent-fixture.js"
import { type FakeModelServer, startFakeModelServer } from "../support/fake-model-server/index.js"
import { freeTempHome, type RunningServer, startServer, type TempHome } from "../support/processes.js"
import { type HostProcess, startHostProcess } from "../support/host-process.js"
import { type EventRecordJson, subscribeSession } from "../support/sse-client.js"
import { cliOk, readConfig, within } from "./helpers.js"

const PASSWORD = "correct-horse-battery-staple"

/** Whether a process exists and is not a zombie. */
const isProcessRunning = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}
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

// ---------------------------------------------------------------------------
// One server, one host, one fake model server for the whole file

type Host = HostProcess

let fake: FakeModelServer
let home: TempHome
let hostHome: TempHome
let server: RunningServer
let host: Host
let token: string
let workDir: string
let notes: string

const hostEnvironment = (): Record<string, string> => ({
  TETHER_SERVER: server.url,
  TETHER_TOKEN: token,
  ANTHROPIC_API_KEY: "sk-ant-e2e-dummy",
  OPENAI_API_KEY: "sk-e2e-dummy",
  CLAUDE_CONFIG_DIR: join(hostHome.dir, "claude"),
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  CODEX_HOME: join(hostHome.dir, "codex"),
  PI_CODING_AGENT_DIR: join(hostHome.dir, "pi"),
  PI_OFFLINE: "1"
})

const startHost = (): Promise<HostProcess> =>
  startHostProcess({
    name: "agents",
    home: hostHome.dir,
    env: hostEnvironment(),
    isOnline: async () => {
      const { body } = await api<{ hosts: ReadonlyArray<{ name: string; online: boolean }> }>("GET", "/v1/hosts")
      return body.hosts.some((h) => h.name === "agents" && h.online)
    }
  })

const api = async <A = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: A }> => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  return { status: response.status, body: (text === "" ? undefined : JSON.parse(text)) as A }
}

beforeAll(async () => {
  fake = await startFakeModelServer()
  home = freeTempHome()
  hostHome = freeTempHome()
  workDir = join(home.dir, "project")
  mkdirSync(workDir)
  notes = "the secret word is marmalade\n"
  writeFileSync(join(workDir, "notes.txt"), notes)
  server = await startServer({ home: home.dir, env: { TETHER_PASSWORD: PASSWORD } })
  await cliOk(["connect", `127.0.0.1:${server.port}`, "--password-stdin"], { home: home.dir, input: `${PASSWORD}\n` })
  const saved = readConfig(home.dir).contexts["127-0-0-1"]?.accessToken
  if (saved === undefined) throw new Error("tether connect saved no token")
  token = saved
  // Codex insists that CODEX_HOME exists; the others create theirs.
  for (const dir of ["claude", "codex", "pi"]) mkdirSync(join(hostHome.dir, dir))
  host = await startHost()
}, 60_000)

afterAll(async () => {
  await host?.stop()
  await server?.stop()
  await fake?.close()
  await home?.cleanup()
  await hostHome?.cleanup()
})

// ---------------------------------------------------------------------------
// Sessions

interface Session {
  readonly id: string
  readonly records: () => ReadonlyArray<EventRecordJson>
  readonly events: () => ReadonlyArray<SessionEvent>
  waitFor(what: string, predicate: (event: SessionEvent) => boolean, timeoutMs?: number): Promise<SessionEvent>
  input(body: Record<string, unknown>): Promise<void>
  close(): void
}

const openSession = async (harness: string, args: ReadonlyArray<string>, prompt: string): Promise<Session> => {
  const created = await api<{ id: string }>("POST", "/v1/sessions", { harness, cwd: workDir, args, prompt })
  assert.strictEqual(created.status, 201, JSON.stringify(created.body))
  const id = created.body.id
  const subscription = subscribeSession(server.url, id, { token, until: () => false })
  subscription.done.catch(() => {})
  const events = () => subscription.records.map((r) => r.event)
  return {
    id,
    records: () => subscription.records,
    events,
    waitFor: (what, predicate, timeoutMs = 30_000) =>
      eventually(what, () => events().find(predicate), timeoutMs).catch((error: unknown) => {
        throw new Error(`${String(error)}\n--- events ---\n${events().map((e) => JSON.stringify(e)).join("\n")}\n--- host ---\n${host.output().slice(-3000)}`)
      }),
    input: async (body) => {
      const sent = await api("POST", `/v1/sessions/${id}/events`, body)
      assert.strictEqual(sent.status, 202, JSON.stringify(sent.body))
    },
    close: () => subscription.close()
  }
}

const isType = <T extends SessionEvent["type"]>(type: T) => (e: SessionEvent): e is Extract<SessionEvent, { type: T }> => e.type === type
const isStatus = (status: string, reason?: string | null) => (e: SessionEvent) =>
  e.type === "status" && e.status === status && (reason === undefined || e.reason === reason)
const statuses = (events: ReadonlyArray<SessionEvent>) => events.flatMap((e) => (e.type === "status" ? [`${e.status}:${e.reason ?? ""}`] : []))

const stopSession = async (session: Session) => {
  await session.input({ type: "stop" })
  await session.waitFor("the session to exit", isStatus("exited", "stopped"), 15_000)
  session.close()
}

interface HarnessCase {
  readonly name: string
  readonly args: () => ReadonlyArray<string>
  /** The tool call that reads notes.txt, in this agent's vocabulary. */
  readonly readTool: () => { readonly name: string; readonly arguments: Record<string, unknown> }
  /** A tool call that needs approval, or undefined when the harness has no approvals. */
  readonly guardedTool?: () => { readonly name: string; readonly arguments: Record<string, unknown> }
  /** The arguments for the approval test, when they differ from `args` (codex reads without asking only under `never`). */
  readonly guardedArgs?: () => ReadonlyArray<string>
  /** Whether text arrives as deltas. */
  readonly deltas: boolean
}

const cases: ReadonlyArray<HarnessCase> = [
  {
    name: "claude-sdk",
    args: () => ["--base-url", fake.url, "--model", "claude-fake"],
    readTool: () => ({ name: "Read", arguments: { file_path: join(workDir, "notes.txt") } }),
    guardedTool: () => ({ name: "Write", arguments: { file_path: join(workDir, "forbidden.txt"), content: "x" } }),
    deltas: true
  },
  {
    name: "codex",
    args: () => ["--base-url", `${fake.url}/v1`, "--model", "gpt-fake", "--sandbox", "danger-full-access", "--approval-policy", "never"],
    readTool: () => ({ name: "exec_command", arguments: { cmd: "cat notes.txt", workdir: workDir } }),
    guardedTool: () => ({ name: "exec_command", arguments: { cmd: "touch forbidden.txt", workdir: workDir } }),
    guardedArgs: () => ["--base-url", `${fake.url}/v1`, "--model", "gpt-fake", "--sandbox", "danger-full-access", "--approval-policy", "untrusted"],
    deltas: true
  },
  {
    name: "openai-agents",
    args: () => ["--base-url", `${fake.url}/v1`, "--model", "gpt-fake"],
    readTool: () => ({ name: "read_file", arguments: { path: "notes.txt" } }),
    guardedTool: () => ({ name: "run_command", arguments: { command: "touch forbidden.txt" } }),
    deltas: true
  },
  {
    name: "pi",
    args: () => ["--base-url", fake.url, "--provider", "anthropic", "--model", "claude-fake"],
    readTool: () => ({ name: "read", arguments: { path: "notes.txt" } }),
    deltas: true
  }
]

describe("agent harnesses through the server and a real runner", () => {
  // A failed test must not leave its unused turns to the next one.
  beforeEach(() => fake.clearScript())

  it("the host reports every agent harness ready, with the endpoint it will use", async () => {
    const { body } = await api<{ hosts: ReadonlyArray<{ name: string; harnesses: ReadonlyArray<{ name: string; ready: boolean; detail: string | null }> }> }>(
      "GET",
      "/v1/hosts"
    )
    const harnesses = body.hosts.find((h) => h.name === "agents")?.harnesses ?? []
    for (const name of ["claude-sdk", "codex", "openai-agents", "pi"]) {
      const info = harnesses.find((h) => h.name === name)
      assert.isTrue(info?.ready, `${name}: ${JSON.stringify(info)}`)
    }
    assert.notInclude(JSON.stringify(harnesses), "sk-ant-e2e-dummy")
  })

  it("`tether harnesses --json` reports readiness on this machine from its environment", async () => {
    const scratch = freeTempHome()
    try {
      type Listed = ReadonlyArray<{ name: string; capabilities: ReadonlyArray<string>; ready: boolean; detail: string | null }>
      const bare = await cliOk(["harnesses", "--json"], { home: scratch.dir, env: { HOME: scratch.dir } })
      const none = JSON.parse(bare.stdout) as Listed
      assert.deepStrictEqual(none.map((h) => h.name), ["shell", "terminal", "claude-sdk", "codex", "openai-agents", "pi", "claude-native", "codex-native"])
      for (const name of ["claude-sdk", "codex", "openai-agents", "pi"]) {
        const info = none.find((h) => h.name === name)
        assert.isFalse(info?.ready, `${name} without credentials: ${JSON.stringify(info)}`)
        assert.match(info?.detail ?? "", /credentials/)
      }
      const keyed = await cliOk(["harnesses", "--json"], {
        home: scratch.dir,
        env: { HOME: scratch.dir, ANTHROPIC_API_KEY: "sk-ant-secret-value", ANTHROPIC_BASE_URL: fake.url }
      })
      const claude = (JSON.parse(keyed.stdout) as Listed).find((h) => h.name === "claude-sdk")
      assert.isTrue(claude?.ready)
      assert.deepStrictEqual(claude?.capabilities, ["streaming", "interrupt", "approvals", "resume"])
      assert.strictEqual(claude?.detail, `credentials: ANTHROPIC_API_KEY; endpoint: ${fake.url}`)
      assert.notInclude(keyed.stdout + keyed.stderr, "sk-ant-secret-value")
      const table = await cliOk(["harnesses"], { home: scratch.dir, env: { HOME: scratch.dir } })
      assert.match(table.stdout, /^NAME\s+READY\s+CAPABILITIES\s+DETAIL/)
      assert.match(table.stdout, /\nclaude-sdk\s+no\s+streaming,interrupt,approvals,resume\s+no Anthropic credentials/)
    } finally {
      await scratch.cleanup()
    }
  }, 60_000)

  for (const harness of cases) {
    describe(harness.name, () => {
      it("prompt → tool reading a file → result → final text, all on the SSE stream", async () => {
        const final = `The secret word is marmalade (${harness.name}).`
        fake.script({ kind: "tool_call", ...harness.readTool() }, { kind: "text", text: final, chunks: 3 })
        const session = await openSession(harness.name, harness.args(), "What is in notes.txt?")
        try {
          await session.waitFor("the final text", (e) => e.type === "message" && e.text === final, 30_000)
          await eventually("idle after the answer", () => {
            const all = session.events()
            const answered = all.findIndex((e) => e.type === "message" && e.text === final)
            return all.slice(answered).some(isStatus("idle")) ? true : undefined
          }, 10_000)
          const events = session.events()
          const call = events.find(isType("tool_call"))
          const result = events.find(isType("tool_result"))
          assert.isDefined(call, `a tool_call event in:\n${events.map((e) => JSON.stringify(e)).join("\n")}`)
          assert.strictEqual(result?.callId, call?.callId)
          assert.include(JSON.stringify(result?.output), "marmalade")
          const order = [events.indexOf(call!), events.indexOf(result!), events.findIndex((e) => e.type === "message" && e.text === final)]
          assert.deepStrictEqual([...order].sort((a, b) => a - b), order, "tool call, result, answer in that order")
          if (harness.deltas) {
            const message = events.find((e): e is Extract<SessionEvent, { type: "message" }> => e.type === "message" && e.text === final)
            const deltas = events.filter(isType("message_delta")).filter((d) => d.messageId === message?.messageId)
            assert.strictEqual(deltas.map((d) => d.text).join(""), final)
          }
          assert.isDefined(events.find(isType("usage")))
          assert.strictEqual(statuses(events)[0], "idle:", "the server's first status")
          // Seqs on the stream follow on without gaps.
          session.records().forEach((r, i) => assert.strictEqual(r.seq, i + 1))
        } finally {
          await stopSession(session)
        }
      }, 90_000)

      if (harness.guardedTool !== undefined) {
        const guarded = harness.guardedTool
        it("an approval the client denies: the server records it and the model gets the note", async () => {
          fake.script({ kind: "tool_call", ...guarded() }, { kind: "text", text: "Fine, I will not." })
          const session = await openSession(harness.name, (harness.guardedArgs ?? harness.args)(), "do the guarded thing")
          try {
            const request = await session.waitFor("an approval request", isType("approval_request"), 30_000)
            const requestId = request.type === "approval_request" ? request.requestId : ""
            const pending = await api<{ pendingApprovals: ReadonlyArray<{ requestId: string }> }>("GET", `/v1/sessions/${session.id}`)
            assert.deepStrictEqual(pending.body.pendingApprovals.map((a) => a.requestId), [requestId])
            await session.input({ type: "approval", requestId, decision: "deny", note: "absolutely not here" })
            await session.waitFor("the answer", (e) => e.type === "message" && e.text === "Fine, I will not.", 30_000)
            const resolved = session.events().find(isType("approval_resolved"))
            assert.deepStrictEqual([resolved?.requestId, resolved?.decision, resolved?.note], [requestId, "deny", "absolutely not here"])
            assert.include(JSON.stringify(fake.requests.at(-1)?.body), "absolutely not here")
            assert.include(statuses(session.events()), "waiting_approval:")
          } finally {
            await stopSession(session)
          }
        }, 90_000)
      }

      it("an interrupt mid-stream ends the turn promptly and aborts the model request", async () => {
        const abortedBefore = fake.aborted
        fake.script({ kind: "text", text: "slow words that will never all arrive", chunks: 40, delayMs: 250 })
        const session = await openSession(harness.name, harness.args(), "talk slowly")
        try {
          if (harness.deltas) await session.waitFor("the first delta", isType("message_delta"), 30_000)
          else await eventually("the model request", () => (fake.pending === 0 ? true : undefined), 30_000)
          const started = Date.now()
          await session.input({ type: "interrupt" })
          await session.waitFor("idle after the interrupt", isStatus("idle", "interrupted"), 10_000)
          const took = Date.now() - started
          assert.isBelow(took, 5_000, `interrupt took ${took} ms`)
          await eventually("the model request aborted", () => (fake.aborted > abortedBefore ? true : undefined), 5_000)
        } finally {
          await stopSession(session)
        }
      }, 90_000)
    })
  }

  it("after a runner restart the claude-sdk session resumes its conversation", async () => {
    fake.script({ kind: "text", text: "Noted: kumquat." })
    const session = await openSession("claude-sdk", cases[0]!.args(), "remember kumquat")
    try {
      await session.waitFor("the first answer", (e) => e.type === "message" && e.text === "Noted: kumquat.", 30_000)
      const id = await session.waitFor("the agent session id", isType("agent_session"))
      await eventually("idle after the answer", () => {
        const all = session.events()
        return all.slice(all.findIndex((e) => e.type === "message" && e.text === "Noted: kumquat.")).some(isStatus("idle")) ? true : undefined
      }, 10_000)

      // The runner's SIGTERM stops its sessions first: the Claude process (and anything under it) goes too.
      const agentProcesses = liveDescendants(host.child.pid ?? -1)
      assert.isNotEmpty(agentProcesses, "the Claude process runs under the host")
      await host.stop()
      const survivors = agentProcesses.filter(isProcessRunning)
      assert.deepStrictEqual(survivors, [], "agent processes survived the runner")
      host = await startHost()
      // The new runner adopts the session: its harness starts again, idle, with the same conversation.
      await eventually("the session adopted (started again, idle)", () => {
        const trail = statuses(session.events())
        return trail.filter((s) => s === "running:").length >= 2 && trail.at(-1) === "idle:" ? true : undefined
      }, 30_000)
      fake.script({ kind: "text", text: "You said kumquat." })
      await session.input({ type: "message", text: "what did I say?" })
      await session.waitFor("the resumed answer", (e) => e.type === "message" && e.text === "You said kumquat.", 30_000)
      const body = JSON.stringify(fake.requests.at(-1)?.body)
      assert.include(body, "remember kumquat")
      assert.include(body, "Noted: kumquat.")
      const ids = session.events().filter(isType("agent_session")).map((e) => e.agentSessionId)
      assert.deepStrictEqual([...new Set(ids)], [id.type === "agent_session" ? id.agentSessionId : ""])
    } finally {
      await within("stopping", 20_000, stopSession(session))
    }
  }, 120_000)

  it("after a runner restart the codex session resumes its thread (no app-server survives the old runner)", async () => {
    fake.script({ kind: "text", text: "Noted: quince." })
    const session = await openSession("codex", cases[1]!.args(), "remember quince")
    try {
      await session.waitFor("the first answer", (e) => e.type === "message" && e.text === "Noted: quince.", 30_000)
      const id = await session.waitFor("the thread id", isType("agent_session"))
      await eventually("idle after the answer", () => {
        const all = session.events()
        return all.slice(all.findIndex((e) => e.type === "message" && e.text === "Noted: quince.")).some(isStatus("idle")) ? true : undefined
      }, 10_000)

      const agentProcesses = liveDescendants(host.child.pid ?? -1)
      assert.isNotEmpty(agentProcesses, "the app-server runs under the host")
      await host.stop()
      assert.deepStrictEqual(agentProcesses.filter(isProcessRunning), [], "app-server processes survived the runner")
      host = await startHost()
      await eventually("the session adopted (started again, idle)", () => {
        const trail = statuses(session.events())
        return trail.filter((s) => s === "running:").length >= 2 && trail.at(-1) === "idle:" ? true : undefined
      }, 30_000)
      fake.script({ kind: "text", text: "You said quince." })
      await session.input({ type: "message", text: "what did I say?" })
      await session.waitFor("the resumed answer", (e) => e.type === "message" && e.text === "You said quince.", 30_000)
      const body = JSON.stringify(fake.requests.at(-1)?.body)
      assert.include(body, "remember quince")
      assert.include(body, "Noted: quince.")
      const ids = session.events().filter(isType("agent_session")).map((e) => e.agentSessionId)
      assert.deepStrictEqual([...new Set(ids)], [id.type === "agent_session" ? id.agentSessionId : ""])
    } finally {
      await within("stopping", 20_000, stopSession(session))
    }
  }, 120_000)
})

/**
 * The whole path, with nothing faked but the upstream model: a real Tether
 * server process (SQLite) with three providers (OpenAI Chat, OpenAI Responses,
 * Anthropic formats) on the fake model server; `tether setup-<client>` run
 * with the CLI context from `tether connect` (admin token) creates an
 * inference key (`--create-key`) through `POST /v1/keys` and writes each
 * client's config; then the real OpenCode, Codex and Claude Code send a
 * prompt through the Tether gateway, which must forward it upstream as the
 * provider's model with the provider's key.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { type FakeModelServer, type RecordedRequest, startFakeModelServer } from "../support/fake-model-server/index.js"
import { freeTempHome, type RunningServer, startServer, type TempHome } from "../support/processes.js"
import { cliOk, connectArgs } from "./helpers.js"

const ROOT = NodePath.resolve(__dirname, "../..")
const bin = (name: string) => NodePath.join(ROOT, "node_modules", ".bin", name)
const PROVIDER_KEY = "sk-fake-upstream-Key-5150"
const CLIENT_LIMIT_MS = 90_000

let tetherHome: TempHome
let clientHome: TempHome
let server: RunningServer | undefined
let fake: FakeModelServer

beforeAll(async () => {
  tetherHome = freeTempHome()
  clientHome = freeTempHome()
  fake = await startFakeModelServer({ models: [{ id: "gpt-fake", context_window: 128_000 }, { id: "claude-fake", context_window: 200_000 }] })
  server = await startServer({ home: tetherHome.dir })
})

afterAll(async () => {
  try {
    if (server !== undefined) assert.strictEqual(await server.stop(), 0, `server did not stop gracefully\n${server.output()}`)
  } finally {
    await fake?.close()
    await clientHome?.cleanup()
    await tetherHome?.cleanup()
  }
})

const clientEnv = (key: string): Record<string, string> => ({
  PATH: process.env["PATH"] ?? "/usr/bin:/bin",
  HOME: clientHome.dir,
  XDG_CONFIG_HOME: NodePath.join(clientHome.dir, ".config"),
  XDG_DATA_HOME: NodePath.join(clientHome.dir, ".local/share"),
  XDG_CACHE_HOME: NodePath.join(clientHome.dir, ".cache"),
  XDG_STATE_HOME: NodePath.join(clientHome.dir, ".local/state"),
  TMPDIR: process.env["TMPDIR"] ?? "/tmp",
  TETHER_API_KEY: key,
  NO_COLOR: "1",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
})

const tether = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  cliOk(args, { home: tetherHome.dir, env: { HOME: clientHome.dir, XDG_CONFIG_HOME: NodePath.join(clientHome.dir, ".config"), ...env } })

/** Runs a client until the fake upstream saw a request on `path`, then stops it. */
const throughGateway = async (key: string, command: string, args: ReadonlyArray<string>, path: string): Promise<RecordedRequest> => {
  const seen = fake.requests.length
  let output = ""
  const child: ChildProcess = spawn(command, [...args], { cwd: clientHome.dir, env: clientEnv(key), detached: true, stdio: ["ignore", "pipe", "pipe"] })
  child.stdout?.on("data", (c: Buffer) => (output = (output + c.toString()).slice(-20_000)))
  child.stderr?.on("data", (c: Buffer) => (output = (output + c.toString()).slice(-20_000)))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  try {
    const deadline = Date.now() + CLIENT_LIMIT_MS
    for (;;) {
      const found = fake.requests.slice(seen).find((r) => r.path === path)
      if (found !== undefined) return found
      if (Date.now() > deadline) {
        throw new Error(`no ${path} request reached the upstream within ${CLIENT_LIMIT_MS} ms\n--- client ---\n${output}\n--- server ---\n${server?.output().slice(-5000)}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } finally {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
    } catch {
      // already gone
    }
    await exited
  }
}

const modelOf = (request: RecordedRequest): unknown =>
  typeof request.body === "object" && request.body !== null ? (request.body as Record<string, unknown>)["model"] : undefined

describe("tether setup-<client> against a real Tether server and gateway", () => {
  it("creates a key, writes the configs, and OpenCode, Codex and Claude Code reach the upstream through Tether", async () => {
    if (server === undefined) throw new Error("the server did not start")
    for (const name of ["opencode", "codex", "claude"]) assert.isTrue(NodeFs.existsSync(bin(name)), `${name} is a devDependency`)
    await cliOk(connectArgs(server.port), { home: tetherHome.dir, input: `${server.password}\n` })
    const providerEnv = { FAKE_PROVIDER_KEY: PROVIDER_KEY }
    await tether(["providers", "add", "chat", "--base-url", fake.url, "--api-key-env", "FAKE_PROVIDER_KEY", "--models", "gpt-fake:128000:16384"], providerEnv)
    await tether(["providers", "add", "resp", "--base-url", fake.url, "--format", "openai-responses", "--api-key-env", "FAKE_PROVIDER_KEY", "--models", "gpt-fake:128000:16384"], providerEnv)
    await tether(["providers", "add", "ant", "--base-url", `${fake.url}/v1`, "--format", "anthropic", "--api-key-env", "FAKE_PROVIDER_KEY", "--models", "claude-fake:200000:8192"], providerEnv)
    for (let i = 0; i < 12; i++) fake.script({ kind: "text", text: "ok" })

    // OpenCode, with a key created on the way (the context holds only the admin access token).
    const opencode = await tether(["setup-opencode", "--create-key", "--model", "chat/gpt-fake"])
    const key = /export TETHER_API_KEY=(tsk_[0-9A-Za-z]{38})/.exec(opencode.stdout)?.[1]
    assert.isDefined(key, opencode.stdout + opencode.stderr)
    const secret = key as string
    const config = NodeFs.readFileSync(NodePath.join(clientHome.dir, ".config/opencode/opencode.json"), "utf8")
    assert.include(config, `"baseURL": "${server.url}/v1"`)
    assert.notInclude(config, secret)
    const viaOpencode = await throughGateway(secret, bin("opencode"), ["run", "say ok"], "/v1/chat/completions")
    assert.strictEqual(modelOf(viaOpencode), "gpt-fake")
    assert.strictEqual(viaOpencode.headers["authorization"], `Bearer ${PROVIDER_KEY}`)

    // Codex, through the Responses route.
    await tether(["setup-codex", "--model", "resp/gpt-fake"], { TETHER_API_KEY: secret })
    const viaCodex = await throughGateway(secret, bin("codex"), ["exec", "--skip-git-repo-check", "say ok"], "/v1/responses")
    assert.strictEqual(modelOf(viaCodex), "gpt-fake")
    assert.strictEqual(viaCodex.headers["authorization"], `Bearer ${PROVIDER_KEY}`)

    // Claude Code, through the Anthropic route (x-api-key from apiKeyHelper).
    await tether(["setup-claude", "--model", "ant/claude-fake"], { TETHER_API_KEY: secret })
    const viaClaude = await throughGateway(secret, bin("claude"), ["-p", "say ok"], "/v1/messages")
    assert.strictEqual(modelOf(viaClaude), "claude-fake")

    // No client config holds the admin token or the inference key.
    const contextFile = NodeFs.readFileSync(NodePath.join(tetherHome.dir, "config.json"), "utf8")
    const adminToken = /tat_[0-9A-Za-z]{38}/.exec(contextFile)?.[0] ?? "tat_missing"
    for (const entry of NodeFs.readdirSync(clientHome.dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue
      const path = NodePath.join(entry.parentPath, entry.name)
      if (!/\.(json|jsonc|toml|ya?ml)$/.test(path) || path.includes(`${NodePath.sep}.local${NodePath.sep}`)) continue
      const text = NodeFs.readFileSync(path, "utf8")
      assert.notInclude(text, adminToken, path)
      assert.notInclude(text, secret, path)
    }
  }, 5 * CLIENT_LIMIT_MS)
})

/**
 * The model gateway end to end through the bundled CLI against a real server
 * process — once on SQLite and once on a fresh PostgreSQL database — with the
 * fake model server as the provider:
 *
 *   connect → providers add (key from an environment variable; from stdin) →
 *   list / show (no key anywhere) → keys create (restricted by a glob) →
 *   models list with the CLI context → a streamed completion with the key →
 *   a model outside the glob is 403 → usage (JSON and table) → keys revoke →
 *   the key is refused → providers rm → its models leave the catalog.
 *
 * Along the way: the provider key and the inference key never appear in any
 * CLI output after creation nor in the server's log; master.key is 0600.
 */
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { type FakeModelServer, startFakeModelServer } from "../support/fake-model-server/index.js"
import { freeTempHome, type RunningServer, startServer, type TempHome } from "../support/processes.js"
import { serverBackends } from "../support/server-backends.js"
import { cliFails, cliJson, cliOk, connectArgs, modeOf } from "./helpers.js"

const backends = await serverBackends("gateway CLI")

const PROVIDER_KEY = "sk-fake-Provider-Key-4242"
const ANTHROPIC_KEY = "sk-ant-fake-Stdin-Key-9191"

interface ProviderJson {
  readonly name: string
  readonly baseUrl: string
  readonly format: string
  readonly hasApiKey: boolean
  readonly models: ReadonlyArray<{ readonly id: string; readonly contextWindow: number | null; readonly maxOutputTokens: number | null }>
}

interface KeyJson {
  readonly id: string
  readonly prefix: string
  readonly models: ReadonlyArray<string> | null
  readonly revokedAt: string | null
}

interface UsageJson {
  readonly totals: ReadonlyArray<{ readonly keyId: string; readonly requests: number; readonly errors: number; readonly inputTokens: number; readonly outputTokens: number }>
  readonly entries: ReadonlyArray<{ readonly model: string; readonly status: number; readonly inputTokens: number | null; readonly outputTokens: number | null }>
}

/** A streamed chat completion with the key; resolves with the status and the body text. */
const complete = async (url: string, key: string, model: string): Promise<{ status: number; text: string; chunks: number }> => {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] })
  })
  let text = ""
  let chunks = 0
  const decoder = new TextDecoder()
  const reader = response.body?.getReader()
  for (;;) {
    const next = await reader?.read()
    if (next === undefined || next.done) break
    chunks += 1
    text += decoder.decode(next.value, { stream: true })
  }
  return { status: response.status, text, chunks }
}

for (const backend of backends) {
  describe.skipIf(backend.unavailable !== undefined)(`model gateway through the CLI bundle (${backend.name})`, () => {
    let home: TempHome
    let server: RunningServer | undefined
    let fake: FakeModelServer

    beforeAll(async () => {
      home = freeTempHome()
      fake = await startFakeModelServer({ models: [{ id: "gpt-fake", context_window: 128_000 }, { id: "gpt-mini" }] })
      server = await startServer({ home: home.dir, env: await backend.database() })
    })

    afterAll(async () => {
      try {
        if (server !== undefined) {
          const code = await server.stop()
          assert.strictEqual(code, 0, `server did not stop gracefully\n${server.output()}`)
        }
      } finally {
        await fake?.close()
        await backend.teardown()
        await home?.cleanup()
      }
    })

    it("adds providers, issues a restricted key, routes through it, meters it and revokes it", async () => {
      if (server === undefined) throw new Error("the server did not start")
      const running = server
      const opts = { home: home.dir }
      const outputs: Array<string> = []
      const ok = async (args: ReadonlyArray<string>, extra: { env?: Record<string, string>; input?: string } = {}) => {
        const result = await cliOk(args, { ...opts, ...extra })
        outputs.push(result.stdout + result.stderr)
        return result
      }
      await cliOk(connectArgs(running.port), { ...opts, input: `${running.password}\n` })

      // Providers: the key comes from this machine's environment (or stdin) and is never shown.
      const added = await ok(
        ["providers", "add", "fake", "--base-url", fake.url, "--api-key-env", "FAKE_PROVIDER_KEY", "--discover"],
        { env: { FAKE_PROVIDER_KEY: PROVIDER_KEY } }
      )
      assert.include(added.stdout, "Added provider fake")
      assert.include(added.stdout, "gpt-fake")
      await ok(
        ["providers", "add", "ant", "--base-url", `${fake.url}/v1`, "--format", "anthropic", "--api-key-stdin", "--models", "claude-fake:200000:8192"],
        { input: `${ANTHROPIC_KEY}\n` }
      )
      const providers = await cliJson<ReadonlyArray<ProviderJson>>(["providers", "list", "--json"], opts)
      assert.deepStrictEqual(providers.map((p) => [p.name, p.format, p.hasApiKey]), [["ant", "anthropic", true], ["fake", "openai-chat", true]])
      const fakeProvider = providers.find((p) => p.name === "fake")
      assert.deepStrictEqual(fakeProvider?.models.map((m) => [m.id, m.contextWindow]), [["gpt-fake", 128_000], ["gpt-mini", null]])
      await ok(["providers", "list"])
      const shown = await ok(["providers", "show", "ant"])
      assert.include(shown.stdout, "claude-fake")
      assert.include(shown.stdout, "8192")
      assert.strictEqual(modeOf(join(home.dir, "master.key")), 0o600)

      // Bad input: a clear line and exit 2; an existing name is refused.
      const missingEnv = await cliFails(["providers", "add", "x", "--base-url", fake.url, "--api-key-env", "NOPE_NOT_SET"], 2, opts)
      assert.include(missingEnv.line, "NOPE_NOT_SET")
      await cliFails(["providers", "add", "y", "--base-url", fake.url, "--models", "a", "--discover"], 2, opts)
      const taken = await cliFails(["providers", "add", "fake", "--base-url", fake.url], 1, opts)
      assert.include(taken.line, "exists")

      // A key restricted to the fake provider; the secret is printed once, alone on stdout.
      const created = await ok(["keys", "create", "--name", "ci", "--models", "fake/*"])
      const secret = created.stdout.trim()
      assert.match(secret, /^tsk_[0-9A-Za-z]{38}$/)
      const keys = await cliJson<ReadonlyArray<KeyJson>>(["keys", "list", "--json"], opts)
      assert.deepStrictEqual(keys.map((k) => [k.prefix, k.models]), [[secret.slice(0, 10), ["fake/*"]]])
      const listedKeys = await ok(["keys", "list"])
      assert.notInclude(listedKeys.stdout, secret)
      assert.include(listedKeys.stdout, `${secret.slice(0, 10)}…`)

      // The catalog, with the CLI context's access token.
      const models = await cliJson<ReadonlyArray<{ id: string; context_window: number | null; max_output_tokens: number | null }>>(
        ["models", "list", "--json"],
        opts
      )
      assert.deepStrictEqual(models.map((m) => m.id).sort(), ["ant/claude-fake", "fake/gpt-fake", "fake/gpt-mini"])
      assert.strictEqual(models.find((m) => m.id === "ant/claude-fake")?.max_output_tokens, 8192)
      assert.include((await ok(["models", "list"])).stdout, "fake/gpt-fake")

      // Route a streamed completion; a model outside the key's glob is 403.
      fake.script({ kind: "text", text: "AAAABBBBCCCC", chunks: 3, delayMs: 50, usage: { inputTokens: 9, outputTokens: 6 } })
      const answer = await complete(running.url, secret, "fake/gpt-fake")
      assert.strictEqual(answer.status, 200, answer.text)
      for (const piece of ["AAAA", "BBBB", "CCCC", "[DONE]"]) assert.include(answer.text, piece)
      assert.strictEqual(fake.requests.at(-1)?.headers["authorization"], `Bearer ${PROVIDER_KEY}`)
      const outside = await complete(running.url, secret, "ant/claude-fake")
      assert.strictEqual(outside.status, 403)

      // Usage, per key.
      const usage = await cliJson<UsageJson>(["usage", "--key", secret.slice(0, 10), "--since", "1h", "--json"], opts)
      assert.deepStrictEqual(usage.entries.map((e) => [e.model, e.status, e.inputTokens, e.outputTokens]), [
        ["ant/claude-fake", 403, null, null],
        ["fake/gpt-fake", 200, 9, 6]
      ])
      assert.deepStrictEqual(usage.totals.map((t) => [t.requests, t.errors, t.inputTokens, t.outputTokens]), [[2, 1, 9, 6]])
      const usageTable = await ok(["usage"])
      assert.include(usageTable.stdout, "fake/gpt-fake")
      await cliFails(["usage", "--since", "yesterday-ish"], 2, opts)

      // Revoke: the key stops working at once.
      const revoked = await ok(["keys", "revoke", secret.slice(0, 10)])
      assert.include(revoked.stdout, "Revoked inference key")
      assert.strictEqual((await complete(running.url, secret, "fake/gpt-fake")).status, 401)

      // Remove a provider: its models leave the catalog.
      await ok(["providers", "rm", "fake"])
      const after = await cliJson<ReadonlyArray<{ id: string }>>(["models", "list", "--json"], opts)
      assert.deepStrictEqual(after.map((m) => m.id), ["ant/claude-fake"])
      await cliFails(["providers", "show", "fake"], 1, opts)

      // No secret ever reached the terminal after creation, nor the server's log.
      for (const text of outputs) {
        assert.notInclude(text, PROVIDER_KEY)
        assert.notInclude(text, ANTHROPIC_KEY)
      }
      for (const text of outputs.filter((t) => !t.startsWith(secret))) assert.notInclude(text, secret)
      for (const key of [PROVIDER_KEY, ANTHROPIC_KEY, secret]) assert.notInclude(running.output(), key)
    }, 120_000)
  })
}

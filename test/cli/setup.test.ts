/**
 * `tether setup-<client>` / `tether configure codex` end to end: the bundled
 * CLI (`dist/tether.mjs`) in a child process with HOME in a temp dir, talking
 * to a fake gateway on 127.0.0.1 that implements the Tether model/key contract.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { formatToken } from "../../src/domain/token-format.js"
import { freeTempHome, runCli, type TempHome } from "../support/processes.js"
import { type FakeGateway, startFakeGateway } from "../services/config-writer/fake-gateway.js"

const TSK = formatToken("inference", "K".repeat(16) + "s".repeat(16))
const TAT = formatToken("access", "A".repeat(16) + "d".repeat(16))
const OTHER_TAT = formatToken("access", "Z".repeat(32))

let gateway: FakeGateway
const homes: Array<TempHome> = []

beforeAll(async () => {
  gateway = await startFakeGateway({
    models: [
      { id: "anthropic/claude-sonnet-4.5", contextWindow: 200_000, maxOutputTokens: 64_000 },
      { id: "openai/gpt-5" },
      { id: "openai/gpt-5-mini" }
    ],
    tokens: [TSK, TAT],
    adminTokens: [TAT]
  })
})
afterAll(async () => {
  await gateway.close()
  for (const home of homes) await home.cleanup()
})

const newHome = () => {
  const home = freeTempHome()
  homes.push(home)
  return home.dir
}

const setup = (home: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  runCli(args, { home: NodePath.join(home, ".tether"), env: { HOME: home, XDG_CONFIG_HOME: NodePath.join(home, ".config"), ...env }, cwd: home })

/** Every file under `dir` with its content. */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(
    NodeFs.readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => {
        const path = NodePath.join(e.parentPath, e.name)
        return [NodePath.relative(dir, path), NodeFs.readFileSync(path, "utf8")]
      })
  )

const modeOf = (path: string) => NodeFs.statSync(path).mode & 0o777

describe("tether setup-<client>", () => {
  it("writes OpenCode's config, prints how to use it, and a second run changes nothing", async () => {
    const home = newHome()
    const first = await setup(home, ["setup-opencode", "--remote", gateway.url, "--api-key", TSK, "--model", "openai/gpt-5"])
    expect(first.stderr).toBe("")
    expect(first.code).toBe(0)
    const path = NodePath.join(home, ".config/opencode/opencode.json")
    expect(first.stdout).toContain(`wrote ${path}`)
    expect(first.stdout).toContain("opencode -m tether/openai/gpt-5")
    const config = JSON.parse(NodeFs.readFileSync(path, "utf8"))
    expect(config.provider.tether.options).toEqual({ baseURL: `${gateway.url}/v1`, apiKey: "{env:TETHER_API_KEY}" })
    expect(Object.keys(config.provider.tether.models)).toEqual(["anthropic/claude-sonnet-4.5", "openai/gpt-5", "openai/gpt-5-mini"])
    expect(config.provider.tether.models["anthropic/claude-sonnet-4.5"].limit).toEqual({ context: 200_000, output: 64_000 })
    expect(config.model).toBe("tether/openai/gpt-5")

    const before = snapshot(home)
    const second = await setup(home, ["setup-opencode", "--remote", gateway.url, "--api-key", TSK, "--model", "openai/gpt-5"])
    expect(second.code).toBe(0)
    expect(second.stdout).toContain("nothing changed")
    expect(snapshot(home)).toEqual(before) // no rewrite, no backup
    for (const file of Object.values(snapshot(home))) expect(file).not.toContain(TSK)
  })

  it("merges into an existing file, keeping its keys and comments, and keeps a backup of the original", async () => {
    const home = newHome()
    const path = NodePath.join(home, ".config/crush/crush.json")
    NodeFs.mkdirSync(NodePath.dirname(path), { recursive: true })
    const original = `{\n  // mine\n  "lsp": { "go": { "command": "gopls" } }\n}\n`
    NodeFs.writeFileSync(path, original, { mode: 0o640 })
    const result = await setup(home, ["setup-crush", "--remote", gateway.url, "--api-key", TSK, "--only", "openai/*"])
    expect(result.code).toBe(0)
    const written = NodeFs.readFileSync(path, "utf8")
    expect(written).toContain(`// mine\n  "lsp": { "go": { "command": "gopls" } },`)
    const config = JSON.parse(written.replace("// mine", ""))
    expect(config.providers.tether.api_key).toBe("$TETHER_API_KEY")
    expect(config.providers.tether.models.map((m: { id: string }) => m.id)).toEqual(["openai/gpt-5", "openai/gpt-5-mini"])
    expect(config.models).toBeUndefined() // two models left, none chosen
    expect(modeOf(path)).toBe(0o640) // the user's mode is kept
    const backups = NodeFs.readdirSync(NodePath.dirname(path)).filter((f) => f.startsWith("crush.json.tether-backup-"))
    expect(backups).toHaveLength(1)
    expect(NodeFs.readFileSync(NodePath.join(NodePath.dirname(path), backups[0]!), "utf8")).toBe(original)
    expect(modeOf(NodePath.join(NodePath.dirname(path), backups[0]!))).toBe(0o600)
  })

  it("--dry-run prints a unified diff and writes nothing", async () => {
    const home = newHome()
    const path = NodePath.join(home, ".codex/config.toml")
    NodeFs.mkdirSync(NodePath.dirname(path), { recursive: true })
    NodeFs.writeFileSync(path, `# mine\napproval_policy = "on-request"\n`)
    const before = snapshot(home)
    const result = await setup(home, ["setup-codex", "--remote", gateway.url, "--api-key", TSK, "--model", "openai/gpt-5", "--dry-run"])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`--- a${path}\n+++ b${path}\n@@ -1,2 +1,10 @@\n # mine\n approval_policy = "on-request"\n+model = "openai/gpt-5"\n+model_provider = "tether"\n`)
    expect(result.stdout).toContain("+[model_providers.tether]\n")
    expect(result.stdout).toContain(`--- /dev/null\n+++ b${NodePath.join(home, ".codex/tether-openai-gpt-5.config.toml")}`)
    expect(result.stderr).toContain("dry run: nothing written")
    expect(snapshot(home)).toEqual(before)
  })

  it("--only keeps the matching models; one left becomes the start model", async () => {
    const home = newHome()
    const result = await setup(home, ["setup-qwen", "--remote", gateway.url, "--api-key", TSK, "--only", "openai/gpt-5-m*"])
    expect(result.code).toBe(0)
    const settings = JSON.parse(NodeFs.readFileSync(NodePath.join(home, ".qwen/settings.json"), "utf8"))
    expect(settings.modelProviders.openai.map((m: { id: string }) => m.id)).toEqual(["openai/gpt-5-mini"])
    expect(settings.modelProviders.openai[0].envKey).toBe("TETHER_API_KEY")
    expect(settings.model.name).toBe("openai/gpt-5-mini")

    const none = await setup(home, ["setup-qwen", "--remote", gateway.url, "--api-key", TSK, "--only", "mistral/*"])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain("no model matches --only mistral/*")
  })

  it("a client that needs a model fails clearly without --model when several are offered (no prompt without a terminal)", async () => {
    const home = newHome()
    const result = await setup(home, ["setup-claude", "--remote", gateway.url, "--api-key", TSK])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("Claude Code needs a model to start with: pass --model")
    const unknown = await setup(home, ["setup-claude", "--remote", gateway.url, "--api-key", TSK, "--model", "nope/nope"])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("unknown model nope/nope")
    expect(NodeFs.existsSync(NodePath.join(home, ".claude"))).toBe(false)
  })

  it("Claude Code gets the server root and reads the key through apiKeyHelper", async () => {
    const home = newHome()
    const result = await setup(home, ["setup-claude", "--remote", gateway.url, "--api-key", TSK, "--model", "anthropic/claude-sonnet-4.5"])
    expect(result.code).toBe(0)
    const settings = JSON.parse(NodeFs.readFileSync(NodePath.join(home, ".claude/settings.json"), "utf8"))
    expect(settings.env.ANTHROPIC_BASE_URL).toBe(gateway.url)
    expect(settings.env.ANTHROPIC_MODEL).toBe("anthropic/claude-sonnet-4.5")
    expect(settings.apiKeyHelper).toBe("printenv TETHER_API_KEY")
  })

  it("literal-only clients get the key only with --write-key, in a 0600 file", async () => {
    const home = newHome()
    const without = await setup(home, ["setup-cline", "--remote", gateway.url, "--api-key", TSK, "--model", "openai/gpt-5"])
    expect(without.code).toBe(0)
    expect(without.stderr).toContain("rerun with --write-key")
    expect(NodeFs.existsSync(NodePath.join(home, ".cline/data/secrets.json"))).toBe(false)
    const state = JSON.parse(NodeFs.readFileSync(NodePath.join(home, ".cline/data/globalState.json"), "utf8"))
    expect([state.actModeOpenAiModelId, state.planModeOpenAiModelId, state.openAiBaseUrl]).toEqual(["openai/gpt-5", "openai/gpt-5", `${gateway.url}/v1`])

    const withKey = await setup(home, ["setup-cline", "--remote", gateway.url, "--api-key", TSK, "--model", "openai/gpt-5", "--write-key"])
    expect(withKey.code).toBe(0)
    const secrets = NodePath.join(home, ".cline/data/secrets.json")
    expect(JSON.parse(NodeFs.readFileSync(secrets, "utf8"))).toEqual({ openAiApiKey: TSK })
    expect(modeOf(secrets)).toBe(0o600)
    expect(withKey.stdout + withKey.stderr).not.toContain(TSK)

    // an env-capable client ignores --write-key and says so
    const codex = await setup(home, ["setup-codex", "--remote", gateway.url, "--api-key", TSK, "--write-key"])
    expect(codex.code).toBe(0)
    expect(codex.stderr).toContain("--write-key is ignored")
    for (const [file, text] of Object.entries(snapshot(NodePath.join(home, ".codex")))) expect(text, file).not.toContain(TSK)
  })

  it("with only an access token, --create-key creates an inference key; the access token is never written", async () => {
    const home = newHome()
    const result = await setup(home, ["setup-aider", "--remote", gateway.url, "--api-key", TAT, "--model", "openai/gpt-5", "--create-key", "--write-key"])
    expect(result.stderr).toContain("Created inference key")
    expect(result.code).toBe(0)
    expect(gateway.createdKeys).toHaveLength(1)
    const created = gateway.createdKeys[0]!
    expect(result.stdout).toContain(`export TETHER_API_KEY=${created}`)
    const conf = NodeFs.readFileSync(NodePath.join(home, ".aider.conf.yml"), "utf8")
    expect(conf).toContain(`openai-api-key: ${created}`)
    expect(conf).toContain("model: openai/openai/gpt-5")
    for (const text of Object.values(snapshot(home))) expect(text).not.toContain(TAT)

    // no key and no --create-key: still configured (env client), with a note how to get a key
    const plain = await setup(home, ["setup-goose", "--remote", gateway.url, "--api-key", TAT, "--model", "openai/gpt-5"])
    expect(plain.code).toBe(0)
    expect(plain.stderr).toContain("needs $TETHER_API_KEY set to an inference key")
    expect(gateway.createdKeys).toHaveLength(1)
    for (const text of Object.values(snapshot(home))) expect(text).not.toContain(TAT)
  })

  it("$TETHER_API_KEY is the inference key when no --api-key is given", async () => {
    const home = newHome()
    const result = await setup(home, ["setup-roo", "--remote", gateway.url, "--model", "openai/gpt-5", "--write-key"], { TETHER_API_KEY: TSK })
    expect(result.code).toBe(0)
    const path = NodePath.join(home, ".tether/clients/roo-code-settings.json")
    const settings = JSON.parse(NodeFs.readFileSync(path, "utf8"))
    expect(settings.providerProfiles.apiConfigs.tether).toMatchObject({ apiProvider: "openai", openAiApiKey: TSK, openAiModelId: "openai/gpt-5" })
    expect(modeOf(path)).toBe(0o600)
  })

  it("fails clearly: refused credential (4), unreachable server (3), unreadable existing file (1, untouched), bad --api-key (2)", async () => {
    const home = newHome()
    const refused = await setup(home, ["setup-codex", "--remote", gateway.url, "--api-key", OTHER_TAT])
    expect(refused.code).toBe(4)
    expect(refused.stderr).toMatch(/refused to list models \(HTTP 401/)

    const unreachable = await setup(home, ["setup-codex", "--remote", "http://127.0.0.1:1", "--api-key", TSK])
    expect(unreachable.code).toBe(3)
    expect(unreachable.stderr).toContain("cannot reach the Tether server at http://127.0.0.1:1")

    const path = NodePath.join(home, ".config/opencode/opencode.json")
    NodeFs.mkdirSync(NodePath.dirname(path), { recursive: true })
    NodeFs.writeFileSync(path, "{ not json")
    const broken = await setup(home, ["setup-opencode", "--remote", gateway.url, "--api-key", TSK])
    expect(broken.code).toBe(1)
    expect(broken.stderr).toContain(`cannot merge into ${path}: invalid JSON`)
    expect(NodeFs.readFileSync(path, "utf8")).toBe("{ not json")
    // …and no inference key is created for a setup that cannot be written
    const keysBefore = gateway.createdKeys.length
    const brokenCreate = await setup(home, ["setup-opencode", "--remote", gateway.url, "--api-key", TAT, "--create-key"])
    expect(brokenCreate.code).toBe(1)
    expect(gateway.createdKeys).toHaveLength(keysBefore)

    const bad = await setup(home, ["setup-codex", "--remote", gateway.url, "--api-key", "sk-nope"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--api-key is neither an inference key")
  })

  it("setup-cursor writes nothing and prints the in-app steps", async () => {
    const home = newHome()
    const result = await setup(home, ["setup-cursor", "--remote", gateway.url, "--api-key", TSK])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`Override OpenAI Base URL" and enter ${gateway.url}/v1`)
    expect(result.stderr).toContain("no configuration file")
    expect(NodeFs.readdirSync(home).filter((f) => f !== ".tether")).toEqual([])
  })
})

describe("tether configure codex", () => {
  it("--provider --model --name writes a named provider and profiles for that provider's models", async () => {
    const home = newHome()
    const result = await setup(home, ["configure", "codex", "--remote", gateway.url, "--api-key", TSK, "--provider", "openai", "--model", "openai/gpt-5-mini", "--name", "work"])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("codex --profile work-openai-gpt-5-mini")
    const files = snapshot(NodePath.join(home, ".codex"))
    expect(Object.keys(files).sort()).toEqual(["config.toml", "work-openai-gpt-5-mini.config.toml", "work-openai-gpt-5.config.toml"])
    expect(files["config.toml"]).toContain(`[model_providers.work]\nname = "Tether (work)"\nbase_url = "${gateway.url}/v1"\nenv_key = "TETHER_API_KEY"\nwire_api = "responses"\n`)
    expect(files["config.toml"]).toContain(`model = "openai/gpt-5-mini"\nmodel_provider = "work"\n`)
  })

  it("without a terminal and without --provider/--model it asks for them", async () => {
    const home = newHome()
    const result = await setup(home, ["configure", "codex", "--remote", gateway.url, "--api-key", TSK])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("pass --provider and --model")
  })
})

/**
 * Claude Code: `~/.claude/settings.json`.
 *
 * Claude Code speaks the Anthropic Messages API and appends `/v1/messages`
 * to `ANTHROPIC_BASE_URL`, so the base URL is the server root (no `/v1`).
 * The key never goes to disk: `apiKeyHelper` is a shell command whose output
 * Claude Code sends as `x-api-key` and `Authorization: Bearer`; it prints
 * `$TETHER_API_KEY`. The chosen model goes to `ANTHROPIC_MODEL`, and to
 * `ANTHROPIC_DEFAULT_HAIKU_MODEL` so background calls use it too.
 */
import * as NodePath from "node:path"
import type { ClientWriter, WriterInput } from "../model.js"
import { CONFIG_MODE, startModel } from "../model.js"
import { JsonEditor } from "../formats/json.js"

const settingsPath = (input: WriterInput) => NodePath.join(input.paths.home, ".claude", "settings.json")

export const claude: ClientWriter = {
  id: "claude",
  displayName: "Claude Code",
  docs: [
    "https://docs.anthropic.com/en/docs/claude-code/settings (settings.json: env, apiKeyHelper)",
    "https://docs.anthropic.com/en/docs/claude-code/llm-gateway (ANTHROPIC_BASE_URL without /v1, apiKeyHelper)"
  ],
  keyHandling: "env",
  requiresModel: true,
  paths: (input) => [settingsPath(input)],
  plan: (input, read) => {
    const editor = new JsonEditor(settingsPath(input), read(settingsPath(input)) ?? "")
    editor.set(["env", "ANTHROPIC_BASE_URL"], input.serverUrl)
    editor.set(["apiKeyHelper"], `printenv ${input.keyEnv}`)
    const model = startModel(input)
    if (model !== undefined) {
      editor.set(["env", "ANTHROPIC_MODEL"], model)
      editor.set(["env", "ANTHROPIC_DEFAULT_HAIKU_MODEL"], model)
    }
    return {
      files: [{ path: editor.path, content: editor.text, mode: CONFIG_MODE, holdsSecret: false }],
      notes: [],
      usage: [`export ${input.keyEnv}=tsk_…   # your inference key`, "claude"]
    }
  }
}

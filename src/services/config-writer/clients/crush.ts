/**
 * Crush (Charm): `$XDG_CONFIG_HOME/crush/crush.json`.
 *
 * `providers.<id>` of `type: "openai-compat"` (for OpenAI-compatible servers
 * that are not OpenAI), `base_url = <server>/v1`, `api_key: "$TETHER_API_KEY"`
 * (Crush expands `$VAR`), and `models` as a list of `{id, name,
 * context_window, default_max_tokens}`. A chosen model becomes
 * `models.large` and `models.small`.
 */
import * as NodePath from "node:path"
import type { ClientWriter, WriterInput } from "../model.js"
import { CONFIG_MODE, configHome, openAiBase, startModel } from "../model.js"
import { JsonEditor } from "../formats/json.js"
import { limitsOf } from "./opencode-like.js"

const configPath = (input: WriterInput) => NodePath.join(configHome(input.paths), "crush", "crush.json")

export const crush: ClientWriter = {
  id: "crush",
  displayName: "Crush",
  docs: [
    "https://github.com/charmbracelet/crush#custom-providers (providers.<id>: type, base_url, api_key \"$VAR\", models)",
    "https://charm.land/crush.json (schema: openai-compat type, models.large / models.small)"
  ],
  keyHandling: "env",
  requiresModel: false,
  paths: (input) => [configPath(input)],
  plan: (input, read) => {
    const editor = new JsonEditor(configPath(input), read(configPath(input)) ?? "")
    if (editor.get(["$schema"]) === undefined) editor.set(["$schema"], "https://charm.land/crush.json")
    const provider = ["providers", input.providerId]
    editor.set([...provider, "name"], input.providerName)
    editor.set([...provider, "type"], "openai-compat")
    editor.set([...provider, "base_url"], openAiBase(input))
    editor.set([...provider, "api_key"], `$${input.keyEnv}`)
    editor.set(
      [...provider, "models"],
      input.models.map((m) => {
        const limits = limitsOf(m)
        return { id: m.id, name: m.id, context_window: limits.context, default_max_tokens: limits.output }
      })
    )
    const chosen = startModel(input)
    if (chosen !== undefined) {
      editor.set(["models", "large"], { model: chosen, provider: input.providerId })
      editor.set(["models", "small"], { model: chosen, provider: input.providerId })
    }
    return {
      files: [{ path: editor.path, content: editor.text, mode: CONFIG_MODE, holdsSecret: false }],
      notes: [],
      usage: [`export ${input.keyEnv}=tsk_…   # your inference key`, "crush   # pick a model under \"" + input.providerName + "\" with ctrl+p → Switch Model"]
    }
  }
}

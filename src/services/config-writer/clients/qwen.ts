/**
 * Qwen Code: `~/.qwen/settings.json` (JSON with comments).
 *
 * `modelProviders.openai` is a list of model entries `{id, name, baseUrl,
 * envKey}`; Qwen Code reads the key from `process.env[envKey]` and never
 * stores it. Our entries are those with our `baseUrl`; others are kept. A
 * chosen model becomes `model.name` with `security.auth.selectedType: "openai"`.
 */
import * as NodePath from "node:path"
import type { ClientWriter, WriterInput } from "../model.js"
import { CONFIG_MODE, openAiBase, startModel } from "../model.js"
import { JsonEditor } from "../formats/json.js"

const settingsPath = (input: WriterInput) => NodePath.join(input.paths.home, ".qwen", "settings.json")

export const qwen: ClientWriter = {
  id: "qwen",
  displayName: "Qwen Code",
  docs: [
    "https://qwenlm.github.io/qwen-code-docs/en/users/configuration/model-providers/ (modelProviders.<authType>[]: id, name, baseUrl, envKey)",
    "https://qwenlm.github.io/qwen-code-docs/en/users/configuration/settings/ (~/.qwen/settings.json, model.name, security.auth.selectedType)"
  ],
  keyHandling: "env",
  requiresModel: true,
  paths: (input) => [settingsPath(input)],
  plan: (input, read) => {
    const editor = new JsonEditor(settingsPath(input), read(settingsPath(input)) ?? "")
    const base = openAiBase(input)
    const isOurs = (e: unknown) => typeof e === "object" && e !== null && (e as Record<string, unknown>)["baseUrl"] === base
    editor.replaceItems(
      ["modelProviders", "openai"],
      isOurs,
      input.models.map((m) => ({ id: m.id, name: `${m.id} (${input.providerName})`, baseUrl: base, envKey: input.keyEnv }))
    )
    const model = startModel(input)
    if (model !== undefined) {
      editor.set(["model", "name"], model)
      editor.set(["security", "auth", "selectedType"], "openai")
    }
    return {
      files: [{ path: editor.path, content: editor.text, mode: CONFIG_MODE, holdsSecret: false }],
      notes: [],
      usage: [`export ${input.keyEnv}=tsk_…   # your inference key`, "qwen   # /model switches between the Tether models"]
    }
  }
}

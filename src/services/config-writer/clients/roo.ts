/**
 * Roo Code (VS Code extension): keeps provider profiles in VS Code's secret
 * storage, which no file can reach; it imports a settings file instead. We
 * write that import file, `$TETHER_HOME/clients/roo-code-settings.json`
 * (`providerProfiles.apiConfigs.<id>`: `apiProvider: "openai"`,
 * `openAiBaseUrl = <server>/v1`, `openAiModelId`), to be imported from Roo's
 * settings or through the VS Code setting `roo-cline.autoImportSettingsPath`.
 * The profile can only hold a literal key (`openAiApiKey`): written only
 * with `--write-key`, the file is then 0600.
 */
import * as NodePath from "node:path"
import type { ClientWriter, WriterInput } from "../model.js"
import { CONFIG_MODE, openAiBase, SECRET_MODE, startModel, tetherHome } from "../model.js"
import { JsonEditor } from "../formats/json.js"

const importPath = (input: WriterInput) => NodePath.join(tetherHome(input.paths), "clients", "roo-code-settings.json")

export const roo: ClientWriter = {
  id: "roo",
  displayName: "Roo Code",
  docs: [
    "https://docs.roocode.com/providers/openai-compatible (OpenAI Compatible: base URL, API key, model)",
    "https://docs.roocode.com/features/settings-management (export/import; roo-cline.autoImportSettingsPath)"
  ],
  keyHandling: "literal",
  requiresModel: true,
  paths: (input) => [importPath(input)],
  plan: (input, read) => {
    const editor = new JsonEditor(importPath(input), read(importPath(input)) ?? "")
    const profile = ["providerProfiles", "apiConfigs", input.providerId]
    editor.set(["providerProfiles", "currentApiConfigName"], input.providerId)
    editor.set([...profile, "id"], input.providerId)
    editor.set([...profile, "apiProvider"], "openai")
    editor.set([...profile, "openAiBaseUrl"], openAiBase(input))
    const model = startModel(input)
    if (model !== undefined) editor.set([...profile, "openAiModelId"], model)
    const chosen = input.models.find((m) => m.id === model)
    if (chosen !== undefined && (chosen.contextWindow !== null || chosen.maxOutputTokens !== null)) {
      editor.set([...profile, "openAiCustomModelInfo"], {
        ...(chosen.contextWindow !== null ? { contextWindow: chosen.contextWindow } : {}),
        ...(chosen.maxOutputTokens !== null ? { maxTokens: chosen.maxOutputTokens } : {})
      })
    }
    // Roo's importer expects both sections.
    if (editor.get(["globalSettings"]) === undefined) editor.set(["globalSettings"], {})
    const holdsSecret = input.literalKey !== undefined
    if (input.literalKey !== undefined) editor.set([...profile, "openAiApiKey"], input.literalKey)
    const existingKey = editor.get([...profile, "openAiApiKey"]) !== undefined
    return {
      files: [{ path: editor.path, content: editor.text, mode: holdsSecret || existingKey ? SECRET_MODE : CONFIG_MODE, holdsSecret: holdsSecret || existingKey }],
      notes: holdsSecret || existingKey
        ? []
        : ["Roo Code profiles hold the key itself: enter your inference key in Roo's provider settings after importing, or rerun with --write-key to put it in the import file (mode 0600)."],
      usage: [
        `Roo Code → Settings → Import, and choose ${importPath(input)}`,
        `or add to your VS Code settings.json: "roo-cline.autoImportSettingsPath": "${importPath(input)}"`
      ]
    }
  }
}

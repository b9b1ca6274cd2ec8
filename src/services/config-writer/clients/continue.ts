/**
 * Continue (VS Code / JetBrains extension and the `cn` CLI): `~/.continue/config.yaml`.
 *
 * One `models` entry per model: `provider: openai`, `apiBase = <server>/v1`,
 * `apiKey: ${{ secrets.TETHER_API_KEY }}`. Continue resolves local secrets
 * from `.env` files only (`~/.continue/.env`, then the workspace's), not
 * from the process environment, so the key line `TETHER_API_KEY=…` is
 * written to `~/.continue/.env` (mode 0600) only with `--write-key`.
 * Entries are recognised as ours by `provider: openai` + our `apiBase`; the
 * chosen model is listed first (Continue starts with the first chat model).
 */
import * as NodePath from "node:path"
import type { ClientWriter, PlannedFile, WriterInput } from "../model.js"
import { CONFIG_MODE, openAiBase, SECRET_MODE, startModel } from "../model.js"
import { YamlEditor } from "../formats/yaml.js"
import { setDotEnv } from "../formats/dotenv.js"

const dir = (input: WriterInput) => NodePath.join(input.paths.home, ".continue")
const configPath = (input: WriterInput) => NodePath.join(dir(input), "config.yaml")
const envPath = (input: WriterInput) => NodePath.join(dir(input), ".env")

const isOurs = (base: string) => (item: unknown): boolean =>
  typeof item === "object" && item !== null &&
  (item as Record<string, unknown>)["provider"] === "openai" &&
  (item as Record<string, unknown>)["apiBase"] === base

export const continueDev: ClientWriter = {
  id: "continue",
  displayName: "Continue",
  docs: [
    "https://docs.continue.dev/reference (config.yaml: name, version, schema, models[].provider/model/apiBase/apiKey/roles)",
    "https://docs.continue.dev/customize/model-providers/top-level/openai (OpenAI-compatible apiBase with /v1)",
    "continuedev/continue core/config/yaml/LocalPlatformClient.ts (secrets come from ~/.continue/.env and workspace .env files)"
  ],
  keyHandling: "literal",
  requiresModel: false,
  paths: (input) => [configPath(input), envPath(input)],
  plan: (input, read) => {
    const existing = read(configPath(input))
    const editor = new YamlEditor(configPath(input), existing ?? "")
    if (editor.get(["name"]) === undefined) editor.set(["name"], "Local Config")
    if (editor.get(["version"]) === undefined) editor.set(["version"], "1.0.0")
    if (editor.get(["schema"]) === undefined) editor.set(["schema"], "v1")
    const base = openAiBase(input)
    const chosen = startModel(input)
    const ordered = chosen === undefined
      ? input.models
      : [...input.models.filter((m) => m.id === chosen), ...input.models.filter((m) => m.id !== chosen)]
    const wanted = ordered.map((m) => ({
      name: `${input.providerName}: ${m.id}`,
      provider: "openai",
      model: m.id,
      apiBase: base,
      apiKey: `\${{ secrets.${input.keyEnv} }}`,
      roles: ["chat", "edit", "apply"],
      ...(m.contextWindow !== null || m.maxOutputTokens !== null
        ? {
          defaultCompletionOptions: {
            ...(m.contextWindow !== null ? { contextLength: m.contextWindow } : {}),
            ...(m.maxOutputTokens !== null ? { maxTokens: m.maxOutputTokens } : {})
          }
        }
        : {})
    }))
    editor.replaceItems(["models"], isOurs(base), wanted)
    const files: Array<PlannedFile> = [{ path: editor.path, content: editor.text, mode: CONFIG_MODE, holdsSecret: false }]
    const notes: Array<string> = []
    if (input.literalKey !== undefined) {
      files.push({
        path: envPath(input),
        content: setDotEnv(read(envPath(input)) ?? "", input.keyEnv, input.literalKey),
        mode: SECRET_MODE,
        holdsSecret: true
      })
    } else {
      notes.push(
        `Continue reads \${{ secrets.${input.keyEnv} }} from ${envPath(input)}, not from your shell: add the line ${input.keyEnv}=tsk_… there (mode 0600), or rerun with --write-key.`
      )
    }
    return { files, notes, usage: ["Reload Continue in your editor (or run `cn`) and pick a model named \"" + input.providerName + ": …\""] }
  }
}

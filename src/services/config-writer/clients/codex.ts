/**
 * Codex CLI (`@openai/codex`): `$CODEX_HOME/config.toml` (default `~/.codex`).
 *
 * - `[model_providers.<id>]` with `base_url = <server>/v1` (Codex appends
 *   `/responses`), `wire_api = "responses"` (the only value current Codex
 *   accepts) and `env_key` naming the variable that holds the key.
 * - One profile file per model, `$CODEX_HOME/<id>-<model>.config.toml`
 *   (`codex --profile <id>-<model>`): since Codex 0.134 profiles are separate
 *   files and `[profiles.x]` tables in config.toml are ignored.
 * - With a chosen model, the top-level `model` / `model_provider` too.
 */
import * as NodePath from "node:path"
import type { ClientWriter, PlannedFile, WriterInput } from "../model.js"
import { codexHome, CONFIG_MODE, openAiBase, slug, startModel } from "../model.js"
import { TomlEditor } from "../formats/toml.js"

const configPath = (input: WriterInput) => NodePath.join(codexHome(input.paths), "config.toml")

export const codexProfileName = (input: WriterInput, modelId: string): string => `${slug(input.providerId)}-${slug(modelId)}`

const profilePath = (input: WriterInput, modelId: string) =>
  NodePath.join(codexHome(input.paths), `${codexProfileName(input, modelId)}.config.toml`)

export const codex: ClientWriter = {
  id: "codex",
  displayName: "Codex CLI",
  docs: [
    "https://developers.openai.com/codex/config-advanced (profiles as ~/.codex/<name>.config.toml, custom model providers)",
    "https://developers.openai.com/codex/config-reference (model_providers.<id>: base_url, env_key, wire_api)"
  ],
  keyHandling: "env",
  requiresModel: false,
  paths: (input) => [configPath(input), ...input.models.map((m) => profilePath(input, m.id))],
  plan: (input, read) => {
    const main = new TomlEditor(configPath(input), read(configPath(input)) ?? "")
    const provider = ["model_providers", input.providerId]
    main.ensureTable(provider)
    main.set([...provider, "name"], input.providerName)
    main.set([...provider, "base_url"], openAiBase(input))
    main.set([...provider, "env_key"], input.keyEnv)
    main.set([...provider, "wire_api"], "responses")
    const chosen = startModel(input)
    if (chosen !== undefined) {
      main.set(["model"], chosen)
      main.set(["model_provider"], input.providerId)
    }
    const files: Array<PlannedFile> = [{ path: main.path, content: main.text, mode: CONFIG_MODE, holdsSecret: false }]
    for (const model of input.models) {
      const path = profilePath(input, model.id)
      const profile = new TomlEditor(path, read(path) ?? "")
      profile.set(["model"], model.id)
      profile.set(["model_provider"], input.providerId)
      if (model.contextWindow !== null) profile.set(["model_context_window"], model.contextWindow)
      files.push({ path, content: profile.text, mode: CONFIG_MODE, holdsSecret: false })
    }
    const first = chosen ?? input.models[0]?.id ?? ""
    return {
      files,
      notes: [],
      usage: [
        `export ${input.keyEnv}=tsk_…   # your inference key`,
        `codex --profile ${codexProfileName(input, first)}`,
        ...(chosen !== undefined ? [`codex            # now starts with ${chosen} through ${input.providerName}`] : [])
      ]
    }
  }
}

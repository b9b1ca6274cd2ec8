/**
 * Goose: a declarative custom provider,
 * `$XDG_CONFIG_HOME/goose/custom_providers/<id>.json` (`engine: "openai"`,
 * `base_url = <server>/v1`, from which Goose derives `v1/chat/completions`,
 * `api_key_env` naming the variable Goose reads the key from), plus
 * `GOOSE_PROVIDER` / `GOOSE_MODEL` in `$XDG_CONFIG_HOME/goose/config.yaml`.
 */
import * as NodePath from "node:path"
import type { ClientWriter, WriterInput } from "../model.js"
import { CONFIG_MODE, configHome, openAiBase, slug, startModel } from "../model.js"
import { JsonEditor } from "../formats/json.js"
import { YamlEditor } from "../formats/yaml.js"
import { limitsOf } from "./opencode-like.js"

const dir = (input: WriterInput) => NodePath.join(configHome(input.paths), "goose")
const providerPath = (input: WriterInput) => NodePath.join(dir(input), "custom_providers", `${slug(input.providerId)}.json`)
const configPath = (input: WriterInput) => NodePath.join(dir(input), "config.yaml")

export const goose: ClientWriter = {
  id: "goose",
  displayName: "Goose",
  docs: [
    "https://block.github.io/goose/docs/getting-started/providers (custom providers, GOOSE_PROVIDER / GOOSE_MODEL)",
    "block/goose crates/goose/src/config/declarative_providers.rs (custom_providers/<id>.json: name, engine, display_name, api_key_env, base_url, models[].name/context_limit)"
  ],
  keyHandling: "env",
  requiresModel: true,
  paths: (input) => [providerPath(input), configPath(input)],
  plan: (input, read) => {
    const provider = new JsonEditor(providerPath(input), read(providerPath(input)) ?? "")
    provider.set(["name"], slug(input.providerId))
    provider.set(["engine"], "openai")
    provider.set(["display_name"], input.providerName)
    provider.set(["description"], `Models served by the Tether gateway at ${input.serverUrl}`)
    provider.set(["api_key_env"], input.keyEnv)
    provider.set(["base_url"], openAiBase(input))
    provider.set(["models"], input.models.map((m) => ({ name: m.id, context_limit: limitsOf(m).context })))
    provider.set(["supports_streaming"], true)
    const config = new YamlEditor(configPath(input), read(configPath(input)) ?? "")
    const model = startModel(input)
    if (model !== undefined) {
      config.set(["GOOSE_PROVIDER"], slug(input.providerId))
      config.set(["GOOSE_MODEL"], model)
    }
    return {
      files: [
        { path: provider.path, content: provider.text, mode: CONFIG_MODE, holdsSecret: false },
        { path: config.path, content: config.text, mode: CONFIG_MODE, holdsSecret: false }
      ],
      notes: [],
      usage: [`export ${input.keyEnv}=tsk_…   # your inference key`, "goose session"]
    }
  }
}

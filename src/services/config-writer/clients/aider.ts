/**
 * Aider: `~/.aider.conf.yml`.
 *
 * `openai-api-base = <server>/v1` and `model: openai/<model>` (the `openai/`
 * prefix routes through LiteLLM's OpenAI-compatible client, which sends the
 * rest, `provider/model`, as the model id). Aider's config file cannot name
 * another environment variable: the key is written (`openai-api-key`, file
 * mode 0600) only with `--write-key`; otherwise run aider with
 * `OPENAI_API_KEY="$TETHER_API_KEY"`.
 */
import * as NodePath from "node:path"
import type { ClientWriter, WriterInput } from "../model.js"
import { CONFIG_MODE, openAiBase, SECRET_MODE, startModel } from "../model.js"
import { YamlEditor } from "../formats/yaml.js"

const confPath = (input: WriterInput) => NodePath.join(input.paths.home, ".aider.conf.yml")

export const aider: ClientWriter = {
  id: "aider",
  displayName: "Aider",
  docs: [
    "https://aider.chat/docs/config/aider_conf.html (.aider.conf.yml keys: model, openai-api-base, openai-api-key)",
    "https://aider.chat/docs/llms/openai-compat.html (OpenAI-compatible APIs: openai/<model>, OPENAI_API_BASE with /v1)"
  ],
  keyHandling: "literal",
  requiresModel: true,
  paths: (input) => [confPath(input)],
  plan: (input, read) => {
    const editor = new YamlEditor(confPath(input), read(confPath(input)) ?? "")
    editor.set(["openai-api-base"], openAiBase(input))
    const model = startModel(input)
    if (model !== undefined) editor.set(["model"], `openai/${model}`)
    if (input.literalKey !== undefined) editor.set(["openai-api-key"], input.literalKey)
    const holdsSecret = editor.get(["openai-api-key"]) !== undefined
    return {
      files: [{ path: editor.path, content: editor.text, mode: holdsSecret ? SECRET_MODE : CONFIG_MODE, holdsSecret: input.literalKey !== undefined }],
      notes: holdsSecret ? [] : [
        `Aider's config cannot name ${input.keyEnv}: run it as OPENAI_API_KEY="$${input.keyEnv}" aider, or rerun with --write-key to store the key in ${confPath(input)} (mode 0600).`
      ],
      usage: [holdsSecret ? "aider" : `OPENAI_API_KEY="$${input.keyEnv}" aider`]
    }
  }
}

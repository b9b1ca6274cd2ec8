/**
 * The config shape OpenCode and Kilo's CLI (an OpenCode fork) share:
 * `provider.<id>` with the AI SDK package `@ai-sdk/openai-compatible`,
 * `options.baseURL = <server>/v1` (the SDK appends `/chat/completions`),
 * `options.apiKey = "{env:TETHER_API_KEY}"`, and one `models` entry per model
 * with `limit.context` and `limit.output` (OpenCode requires `limit.output`).
 * A chosen model becomes the top-level `model` (`<id>/<provider>/<model>`).
 */
import type { CatalogModel, ClientPlan, ReadFile, WriterInput } from "../model.js"
import { CONFIG_MODE, openAiBase, startModel } from "../model.js"
import { JsonEditor } from "../formats/json.js"

/** Used when the server does not know a model's limits. */
export const DEFAULT_CONTEXT = 128_000
export const DEFAULT_OUTPUT = 16_384

export const limitsOf = (model: CatalogModel) => ({
  context: model.contextWindow ?? DEFAULT_CONTEXT,
  output: model.maxOutputTokens ?? DEFAULT_OUTPUT
})

export const planOpencodeLike = (
  input: WriterInput,
  read: ReadFile,
  options: { readonly path: string; readonly schema: string; readonly command: string }
): ClientPlan => {
  const existing = read(options.path)
  const editor = new JsonEditor(options.path, existing ?? "")
  if (editor.get(["$schema"]) === undefined) editor.set(["$schema"], options.schema)
  const provider = ["provider", input.providerId]
  editor.set([...provider, "npm"], "@ai-sdk/openai-compatible")
  editor.set([...provider, "name"], input.providerName)
  editor.set([...provider, "options", "baseURL"], openAiBase(input))
  editor.set([...provider, "options", "apiKey"], `{env:${input.keyEnv}}`)
  editor.set(
    [...provider, "models"],
    Object.fromEntries(input.models.map((m) => [m.id, { name: m.id, limit: limitsOf(m) }]))
  )
  const chosen = startModel(input)
  if (chosen !== undefined) editor.set(["model"], `${input.providerId}/${chosen}`)
  const shown = chosen ?? input.models[0]?.id ?? ""
  return {
    files: [{ path: editor.path, content: editor.text, mode: CONFIG_MODE, holdsSecret: false }],
    notes: [],
    usage: [`export ${input.keyEnv}=tsk_…   # your inference key`, `${options.command} -m ${input.providerId}/${shown}`]
  }
}

/**
 * OpenCode (`opencode-ai`): `$XDG_CONFIG_HOME/opencode/opencode.json`
 * (`opencode.jsonc` when that is the file the user has). Shape in
 * `opencode-like.ts`.
 */
import * as NodePath from "node:path"
import type { ClientWriter, ReadFile, WriterInput } from "../model.js"
import { configHome } from "../model.js"
import { planOpencodeLike } from "./opencode-like.js"

const dir = (input: WriterInput) => NodePath.join(configHome(input.paths), "opencode")

const pathFor = (input: WriterInput, read: ReadFile): string => {
  const jsonc = NodePath.join(dir(input), "opencode.jsonc")
  const json = NodePath.join(dir(input), "opencode.json")
  return read(json) === undefined && read(jsonc) !== undefined ? jsonc : json
}

export const opencode: ClientWriter = {
  id: "opencode",
  displayName: "OpenCode",
  docs: [
    "https://opencode.ai/docs/providers/ (custom OpenAI-compatible provider: npm, options.baseURL, models, limit)",
    "https://opencode.ai/docs/config/ (config locations, {env:VAR} substitution)"
  ],
  keyHandling: "env",
  requiresModel: false,
  paths: (input) => [NodePath.join(dir(input), "opencode.json"), NodePath.join(dir(input), "opencode.jsonc")],
  plan: (input, read) =>
    planOpencodeLike(input, read, { path: pathFor(input, read), schema: "https://opencode.ai/config.json", command: "opencode" })
}

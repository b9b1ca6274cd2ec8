/**
 * Kilo Code's current CLI and extension (built on OpenCode):
 * `$XDG_CONFIG_HOME/kilo/kilo.jsonc` (`kilo.json` when that is the file the
 * user has), `$schema` `https://app.kilo.ai/config.json`. Same provider shape
 * as OpenCode (`opencode-like.ts`). The legacy `~/.kilocode/cli/config.json`
 * of the pre-1.0 CLI is not written.
 */
import * as NodePath from "node:path"
import type { ClientWriter, ReadFile, WriterInput } from "../model.js"
import { configHome } from "../model.js"
import { planOpencodeLike } from "./opencode-like.js"

const dir = (input: WriterInput) => NodePath.join(configHome(input.paths), "kilo")

const pathFor = (input: WriterInput, read: ReadFile): string => {
  const jsonc = NodePath.join(dir(input), "kilo.jsonc")
  const json = NodePath.join(dir(input), "kilo.json")
  return read(jsonc) === undefined && read(json) !== undefined ? json : jsonc
}

export const kilo: ClientWriter = {
  id: "kilo",
  displayName: "Kilo Code CLI",
  docs: [
    "https://kilo.ai/docs/code-with-ai/agents/custom-models (kilo.jsonc, provider.<id>.models, limit)",
    "Kilo CLI configuration reference (packages/opencode/src/kilocode/skills/kilo-config.md: ~/.config/kilo/kilo.json precedence)"
  ],
  keyHandling: "env",
  requiresModel: false,
  paths: (input) => [NodePath.join(dir(input), "kilo.jsonc"), NodePath.join(dir(input), "kilo.json")],
  plan: (input, read) =>
    planOpencodeLike(input, read, { path: pathFor(input, read), schema: "https://app.kilo.ai/config.json", command: "kilo" })
}

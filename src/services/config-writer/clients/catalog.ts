/**
 * The names of the client writers, without loading them: the CLI builds its
 * `setup-<client>` commands from this list and imports a writer (and the
 * JSON/YAML/TOML libraries it needs) only when its command runs, which keeps
 * those libraries off the CLI's start-up path. Must list exactly the writers
 * of `index.ts` (a test checks it).
 */
import type { ClientId } from "../model.js"

export interface ClientName {
  readonly id: ClientId
  readonly displayName: string
}

export const clientCatalog: ReadonlyArray<ClientName> = [
  { id: "codex", displayName: "Codex CLI" },
  { id: "claude", displayName: "Claude Code" },
  { id: "opencode", displayName: "OpenCode" },
  { id: "cline", displayName: "Cline" },
  { id: "kilo", displayName: "Kilo Code CLI" },
  { id: "continue", displayName: "Continue" },
  { id: "cursor", displayName: "Cursor" },
  { id: "roo", displayName: "Roo Code" },
  { id: "crush", displayName: "Crush" },
  { id: "goose", displayName: "Goose" },
  { id: "qwen", displayName: "Qwen Code" },
  { id: "aider", displayName: "Aider" }
]

/** Every client writer, by the id used in `tether setup-<id>`. */
import type { ClientId, ClientWriter } from "../model.js"
import { aider } from "./aider.js"
import { claude } from "./claude.js"
import { cline } from "./cline.js"
import { codex } from "./codex.js"
import { continueDev } from "./continue.js"
import { crush } from "./crush.js"
import { cursor } from "./cursor.js"
import { goose } from "./goose.js"
import { kilo } from "./kilo.js"
import { opencode } from "./opencode.js"
import { qwen } from "./qwen.js"
import { roo } from "./roo.js"

export const clientWriters: ReadonlyArray<ClientWriter> = [
  codex,
  claude,
  opencode,
  cline,
  kilo,
  continueDev,
  cursor,
  roo,
  crush,
  goose,
  qwen,
  aider
]

export const clientWriter = (id: ClientId): ClientWriter => {
  const found = clientWriters.find((w) => w.id === id)
  if (found === undefined) throw new Error(`no writer for ${id}`)
  return found
}

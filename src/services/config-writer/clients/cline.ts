/**
 * Cline CLI (and the state it shares with the extension):
 * `~/.cline/data/globalState.json` and `~/.cline/data/secrets.json`.
 *
 * Provider `openai` (OpenAI Compatible) for both act and plan mode, with
 * `openAiBaseUrl = <server>/v1` (the OpenAI SDK appends `/chat/completions`)
 * and the model in both `actModeOpenAiModelId` and `planModeOpenAiModelId`.
 * Cline reads its key only from `secrets.json` (`openAiApiKey`), so the key
 * is written there only with `--write-key` (file mode 0600).
 */
import * as NodePath from "node:path"
import type { ClientWriter, PlannedFile, WriterInput } from "../model.js"
import { CONFIG_MODE, openAiBase, SECRET_MODE, startModel } from "../model.js"
import { JsonEditor } from "../formats/json.js"

const dataDir = (input: WriterInput) => NodePath.join(input.paths.home, ".cline", "data")
const statePath = (input: WriterInput) => NodePath.join(dataDir(input), "globalState.json")
const secretsPath = (input: WriterInput) => NodePath.join(dataDir(input), "secrets.json")

export const cline: ClientWriter = {
  id: "cline",
  displayName: "Cline",
  docs: [
    "https://docs.cline.bot/provider-config/openai-compatible (OpenAI Compatible: base URL, key, model id)",
    "cline/cline src/shared/storage/state-keys.ts (actModeApiProvider, planModeApiProvider, openAiBaseUrl, act/planModeOpenAiModelId; openAiApiKey is a secret)"
  ],
  keyHandling: "literal",
  requiresModel: true,
  paths: (input) => [statePath(input), secretsPath(input)],
  plan: (input, read) => {
    const state = new JsonEditor(statePath(input), read(statePath(input)) ?? "")
    state.set(["actModeApiProvider"], "openai")
    state.set(["planModeApiProvider"], "openai")
    state.set(["openAiBaseUrl"], openAiBase(input))
    const model = startModel(input)
    if (model !== undefined) {
      state.set(["actModeOpenAiModelId"], model)
      state.set(["planModeOpenAiModelId"], model)
    }
    state.set(["welcomeViewCompleted"], true)
    const files: Array<PlannedFile> = [{ path: state.path, content: state.text, mode: CONFIG_MODE, holdsSecret: false }]
    const notes: Array<string> = []
    if (input.literalKey !== undefined) {
      const secrets = new JsonEditor(secretsPath(input), read(secretsPath(input)) ?? "")
      secrets.set(["openAiApiKey"], input.literalKey)
      files.push({ path: secrets.path, content: secrets.text, mode: SECRET_MODE, holdsSecret: true })
    } else {
      notes.push(
        `Cline keeps its key only in ${secretsPath(input)} (openAiApiKey): rerun with --write-key to store it there (mode 0600), or enter it in Cline's settings.`
      )
    }
    return { files, notes, usage: ["cline   # act and plan mode both use " + (model ?? "the chosen model")] }
  }
}

/**
 * Cursor: no file to write. Cursor keeps its model settings in its own
 * database and sends chat requests from Cursor's servers, so the override is
 * made in the app (Settings → Models → OpenAI API Key → Override OpenAI Base
 * URL, `<server>/v1`), and the server must be reachable from the internet.
 * The command prints those steps.
 */
import type { ClientWriter } from "../model.js"
import { openAiBase, startModel } from "../model.js"

export const cursor: ClientWriter = {
  id: "cursor",
  displayName: "Cursor",
  docs: ["https://docs.cursor.com/settings/api-keys (OpenAI API key and Override OpenAI Base URL; custom models)"],
  keyHandling: "none",
  requiresModel: false,
  paths: () => [],
  plan: (input) => {
    const model = startModel(input)
    return {
      files: [],
      notes: [
        "Cursor has no configuration file for this: its model settings live in the app, and its requests come from Cursor's servers, so the Tether server must be reachable from the internet (a loopback URL will not work). Only Ask/Plan chat uses the override; Agent mode and Tab keep Cursor's own models."
      ],
      usage: [
        "In Cursor: Settings → Models → API Keys → OpenAI API Key: paste your inference key (tsk_…)",
        `Enable \"Override OpenAI Base URL\" and enter ${openAiBase(input)}`,
        `Add custom model${input.models.length === 1 ? "" : "s"}: ${input.models.map((m) => m.id).join(", ")}`,
        ...(model !== undefined ? [`Select ${model} in the chat model picker`] : [])
      ]
    }
  }
}

/**
 * The shared vocabulary of the config writers: what a writer is given
 * (`WriterInput`), what it answers (`ClientPlan`), and the contract every
 * client module (`clients/<cli>.ts`) fulfils (`ClientWriter`).
 *
 * A client writer is a pure function: given the input and a lookup of the
 * current text of the files it may touch, it returns the full new text of
 * each file. It never reads the disk, the clock or the environment itself;
 * the `ConfigWriter` service does the I/O (read, diff, backup, atomic write).
 *
 * Key rule shared by all writers: the inference key (`tsk_…`) appears in an
 * output only when the client cannot read an environment variable
 * (`keyHandling: "literal"`) AND the caller passed `literalKey` (the user
 * asked with `--write-key`). Every other writer references `keyEnv` in the
 * client's own syntax.
 */
import * as NodePath from "node:path"

/** A model as `GET /v1/models` lists it. */
export interface CatalogModel {
  /** `provider/model`, the id clients send. */
  readonly id: string
  readonly ownedBy: string
  readonly contextWindow: number | null
  readonly maxOutputTokens: number | null
}

/** Where a client's files live: derived from the user's environment, passed in so writers stay pure. */
export interface PathEnv {
  readonly home: string
  /** `XDG_CONFIG_HOME`, default `~/.config`. */
  readonly xdgConfigHome?: string | undefined
  /** `CODEX_HOME`, default `~/.codex`. */
  readonly codexHome?: string | undefined
  /** `TETHER_HOME`, default `~/.tether` (for import files of clients without a file config of their own). */
  readonly tetherHome?: string | undefined
}

export interface WriterInput {
  /** The Tether server's root URL, without trailing slash and without `/v1`. */
  readonly serverUrl: string
  /** The models to offer (after `--only`), in catalog order; never empty. */
  readonly models: ReadonlyArray<CatalogModel>
  /** Id of the provider entry the writers add (`tether`, or `--name`). */
  readonly providerId: string
  /** Human name of that provider entry. */
  readonly providerName: string
  /** Environment variable holding the inference key (`TETHER_API_KEY`). */
  readonly keyEnv: string
  /** The model the client should start with, if one was chosen. */
  readonly model?: string | undefined
  /** The inference key itself: only for literal-only clients, only with `--write-key`. */
  readonly literalKey?: string | undefined
  readonly paths: PathEnv
}

/** One file a writer wants to exist with `content`. */
export interface PlannedFile {
  readonly path: string
  readonly content: string
  /** File mode when created or rewritten (0600 when it holds a secret). */
  readonly mode: number
  /** True when `content` holds the literal key. */
  readonly holdsSecret: boolean
}

export interface ClientPlan {
  readonly files: ReadonlyArray<PlannedFile>
  /** Things the user must know (a key that was not written, a manual step). */
  readonly notes: ReadonlyArray<string>
  /** How to use the result, one command or step a line. */
  readonly usage: ReadonlyArray<string>
}

/** The current text of a file, or undefined when it does not exist. */
export type ReadFile = (path: string) => string | undefined

export type ClientId =
  | "codex"
  | "claude"
  | "opencode"
  | "cline"
  | "kilo"
  | "continue"
  | "cursor"
  | "roo"
  | "crush"
  | "goose"
  | "qwen"
  | "aider"

export interface ClientWriter {
  readonly id: ClientId
  readonly displayName: string
  /** The documentation this writer was checked against (also listed in docs/config-writers.md). */
  readonly docs: ReadonlyArray<string>
  /** `env`: the config references `keyEnv`; `literal`: the client can only hold the key itself. */
  readonly keyHandling: "env" | "literal" | "none"
  /** True when the client cannot start without one chosen model. */
  readonly requiresModel: boolean
  /** The files `plan` may read and write, for this input. */
  readonly paths: (input: WriterInput) => ReadonlyArray<string>
  /** Pure: the new content of every file, given their current content. */
  readonly plan: (input: WriterInput, read: ReadFile) => ClientPlan
}

/** A writer found a file it must merge into that it cannot parse. */
export class UnreadableConfig extends Error {
  readonly _tag = "UnreadableConfig"
  constructor(readonly path: string, readonly reason: string) {
    super(`cannot merge into ${path}: ${reason}; fix or move the file and run again`)
  }
}

// ---------------------------------------------------------------------------
// Small pure helpers shared by the writers

export const configHome = (paths: PathEnv): string =>
  paths.xdgConfigHome !== undefined && paths.xdgConfigHome !== ""
    ? paths.xdgConfigHome
    : NodePath.join(paths.home, ".config")

export const codexHome = (paths: PathEnv): string =>
  paths.codexHome !== undefined && paths.codexHome !== "" ? paths.codexHome : NodePath.join(paths.home, ".codex")

export const tetherHome = (paths: PathEnv): string =>
  paths.tetherHome !== undefined && paths.tetherHome !== "" ? paths.tetherHome : NodePath.join(paths.home, ".tether")

/** The OpenAI-style base URL: clients append `/chat/completions`, `/responses` or `/models` to it. */
export const openAiBase = (input: WriterInput): string => `${input.serverUrl}/v1`

/** The model the client starts with: the chosen one, else the only one offered. */
export const startModel = (input: WriterInput): string | undefined =>
  input.model ?? (input.models.length === 1 ? input.models[0]?.id : undefined)

/** `anthropic/claude-sonnet-4.5` → `anthropic-claude-sonnet-4-5`: safe in file and profile names. */
export const slug = (id: string): string =>
  id.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/-+/g, "-").replace(/^-|-$/g, "").toLowerCase() || "model"

/** The text of a file, `fallback` when absent or blank. */
export const readOr = (read: ReadFile, path: string, fallback: string): string => {
  const text = read(path)
  return text === undefined || text.trim() === "" ? fallback : text
}

export const SECRET_MODE = 0o600
export const CONFIG_MODE = 0o644

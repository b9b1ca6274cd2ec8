/**
 * `tether keys create | list | revoke` (admin): inference keys (`tsk_…`) for
 * the model gateway's `/v1` routes, optionally restricted to model globs.
 * The secret is printed once, at creation.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { InferenceKeyInfo } from "../domain/inference-key.js"
import { formatTime, printJson, printTable } from "./output.js"
import { withClient } from "./remote.js"
import { resolveTarget, targetOptions } from "./target.js"

const jsonOption = Options.boolean("json").pipe(Options.withDescription("print JSON"))

const isoOrNull = (value: DateTime.Utc | null) => (value === null ? null : DateTime.formatIso(value))

export const keyStatus = (key: InferenceKeyInfo, now: number): "active" | "expired" | "revoked" =>
  key.revokedAt !== null
    ? "revoked"
    : key.expiresAt !== null && DateTime.toEpochMillis(key.expiresAt) <= now
    ? "expired"
    : "active"

/** A key as scripts see it in --json output (never the secret, except `secret` at creation). */
export const keyJson = (key: InferenceKeyInfo) => ({
  id: key.id,
  name: key.name,
  prefix: key.prefix,
  models: key.models,
  createdAt: DateTime.formatIso(key.createdAt),
  expiresAt: isoOrNull(key.expiresAt),
  lastUsedAt: isoOrNull(key.lastUsedAt),
  revokedAt: isoOrNull(key.revokedAt)
})

const create = Command.make(
  "create",
  {
    ...targetOptions,
    name: Options.text("name").pipe(Options.withDescription("what the key is for")),
    models: Options.text("models").pipe(
      Options.withDescription("model globs the key may use, e.g. openai/* (repeat, or separate with commas); default all"),
      Options.repeated
    ),
    expires: Options.integer("expires").pipe(
      Options.withDescription("expire after this many days (1–3650); default never"),
      Options.optional
    ),
    json: jsonOption
  },
  (opts) =>
    Effect.gen(function*() {
      const globs = opts.models.flatMap((m) => m.split(",")).map((m) => m.trim()).filter((m) => m !== "")
      const target = yield* resolveTarget(opts)
      const created = yield* withClient(target, (client) =>
        client.keys.create({
          payload: {
            name: opts.name,
            ...(globs.length > 0 ? { models: globs } : {}),
            ...(Option.isSome(opts.expires) ? { expiresInDays: opts.expires.value } : {})
          }
        }))
      if (opts.json) return yield* printJson({ secret: created.secret, ...keyJson(created.key) })
      yield* Console.log(created.secret)
      yield* Console.error(
        `Created inference key "${created.key.name}" (${created.key.id}) for ` +
          `${created.key.models === null ? "every model" : created.key.models.join(", ")}. ` +
          `Copy it now: it is shown only once and cannot be recovered.`
      )
    })
).pipe(Command.withDescription("create an inference key for the gateway (the secret is printed once)"))

const list = Command.make("list", { ...targetOptions, json: jsonOption }, (opts) =>
  Effect.gen(function*() {
    const target = yield* resolveTarget(opts)
    const { keys } = yield* withClient(target, (client) => client.keys.list())
    if (opts.json) return yield* printJson(keys.map(keyJson))
    const now = Date.now()
    yield* printTable(
      [
        { header: "ID", get: (k: InferenceKeyInfo) => k.id },
        { header: "NAME", get: (k: InferenceKeyInfo) => k.name },
        { header: "KEY", get: (k: InferenceKeyInfo) => `${k.prefix}…` },
        { header: "MODELS", get: (k: InferenceKeyInfo) => (k.models === null ? "*" : k.models.join(",")) },
        { header: "STATUS", get: (k: InferenceKeyInfo) => keyStatus(k, now) },
        { header: "LAST USED", get: (k: InferenceKeyInfo) => formatTime(k.lastUsedAt) },
        { header: "EXPIRES", get: (k: InferenceKeyInfo) => formatTime(k.expiresAt) }
      ],
      keys
    )
  })).pipe(Command.withDescription("list inference keys (masked)"))

const revoke = Command.make(
  "revoke",
  { ...targetOptions, idOrPrefix: Args.text({ name: "ID|PREFIX" }), json: jsonOption },
  (opts) =>
    Effect.gen(function*() {
      const target = yield* resolveTarget(opts)
      const result = yield* withClient(target, (client) => client.keys.revoke({ path: { idOrPrefix: opts.idOrPrefix } }))
      const k = result.key
      if (opts.json) return yield* printJson({ ...keyJson(k), alreadyRevoked: result.alreadyRevoked })
      yield* Console.log(
        result.alreadyRevoked
          ? `Inference key "${k.name}" (${k.prefix}…, ${k.id}) was already revoked at ${formatTime(k.revokedAt)}`
          : `Revoked inference key "${k.name}" (${k.prefix}…, ${k.id})`
      )
    })
).pipe(Command.withDescription("revoke an inference key by id or unambiguous prefix"))

export const keysCommand = Command.make("keys").pipe(
  Command.withDescription("manage the model gateway's inference keys (admin)"),
  Command.withSubcommands([create, list, revoke])
)

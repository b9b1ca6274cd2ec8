/**
 * Harness arguments of the agent-SDK harnesses: `--name value` or
 * `--name=value` options, each harness accepting its own set (all accept
 * `--model` and `--base-url`). Anything else (a stray word, an unknown or
 * repeated option, a missing value, a value outside an option's choices) is
 * a `HarnessError` naming the problem, so `start` fails before anything runs.
 */
import { HarnessError } from "../Harness.js"

export interface OptionSpec {
  /** Allowed values; any non-empty string when absent. */
  readonly choices?: ReadonlyArray<string>
  /** One line for `docs/harnesses.md` and error messages. */
  readonly description: string
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>

/** `--model` and `--base-url`, which every SDK harness takes. */
export const commonOptions: OptionSpecs = {
  model: { description: "the model to use (default: the agent's own default)" },
  "base-url": { description: "the provider's API base URL for this session (overrides the environment)" }
}

export const parseHarnessArgs = (
  harness: string,
  args: ReadonlyArray<string>,
  specs: OptionSpecs
): Readonly<Record<string, string>> | HarnessError => {
  const values: Record<string, string> = {}
  const known = Object.keys(specs).map((name) => `--${name}`).join(", ")
  const fail = (reason: string) => new HarnessError({ harness, reason: `${reason} (it takes: ${known})` })
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg)
    if (match === null) return fail(`unexpected argument ${JSON.stringify(arg)}`)
    const name = match[1] ?? ""
    const spec = specs[name]
    if (spec === undefined) return fail(`unknown option --${name}`)
    if (name in values) return fail(`--${name} given twice`)
    let value = match[2]
    if (value === undefined) {
      value = args[i + 1]
      if (value === undefined || value.startsWith("--")) return fail(`--${name} needs a value`)
      i += 1
    }
    if (value.length === 0) return fail(`--${name} needs a non-empty value`)
    if (spec.choices !== undefined && !spec.choices.includes(value)) {
      return new HarnessError({ harness, reason: `--${name} must be one of ${spec.choices.join(", ")}, not ${JSON.stringify(value)}` })
    }
    values[name] = value
  }
  const baseUrl = values["base-url"]
  if (baseUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(baseUrl)) {
    return new HarnessError({ harness, reason: `--base-url must be an http(s) URL, not ${JSON.stringify(baseUrl)}` })
  }
  return values
}

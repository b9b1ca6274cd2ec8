/**
 * Model globs restrict an inference key to some models of the catalog. A glob
 * is matched against the whole `provider/model` id: `*` matches any run of
 * characters (including `/`), `?` exactly one, everything else itself
 * (case-sensitive). Pure code.
 */
import * as Schema from "effect/Schema"

export const ModelGlob = Schema.String.pipe(
  Schema.pattern(/^[^\s]{1,200}$/),
  Schema.annotations({ message: () => "a model glob is 1–200 characters without spaces, e.g. openai/* or */gpt-4o" })
)

/**
 * Whether `glob` matches the whole model id. The classic two-pointer wildcard
 * match: on a mismatch it only retries from the last `*`, so it takes at most
 * O(glob × id) steps whatever the input (no regular expression to backtrack).
 */
export const globMatches = (glob: string, modelId: string): boolean => {
  let g = 0
  let m = 0
  let star = -1
  let resume = 0
  while (m < modelId.length) {
    if (g < glob.length && (glob[g] === "?" || (glob[g] !== "*" && glob[g] === modelId[m]))) {
      g++
      m++
    } else if (g < glob.length && glob[g] === "*") {
      star = g++
      resume = m
    } else if (star !== -1) {
      g = star + 1
      m = ++resume
    } else {
      return false
    }
  }
  while (g < glob.length && glob[g] === "*") g++
  return g === glob.length
}

/** Whether a key with these globs (null: unrestricted) may use the model. */
export const modelAllowed = (globs: ReadonlyArray<string> | null, modelId: string): boolean =>
  globs === null || globs.some((glob) => globMatches(glob, modelId))

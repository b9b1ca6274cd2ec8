/** Command lines typed in the new-session form, split into program arguments. Pure. */

/** Splits a command line into arguments: whitespace separates, single and double quotes group. */
export const splitCommand = (line: string): Array<string> => {
  const args: Array<string> = []
  let current = ""
  let quote: string | null = null
  let started = false
  for (const char of line) {
    if (quote !== null) {
      if (char === quote) quote = null
      else current += char
    } else if (char === "'" || char === "\"") {
      quote = char
      started = true
    } else if (/\s/.test(char)) {
      if (started || current !== "") args.push(current)
      current = ""
      started = false
    } else current += char
  }
  if (started || current !== "") args.push(current)
  return args
}

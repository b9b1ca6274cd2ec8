/**
 * `.env` files: set `NAME=value` in place (replacing an existing line for
 * NAME, else appending), leaving every other line untouched.
 */
export const setDotEnv = (text: string, name: string, value: string): string => {
  const line = `${name}=${value}`
  const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n")
  const pattern = new RegExp(`^\\s*(export\\s+)?${name.replace(/[^A-Za-z0-9_]/g, "")}\\s*=`)
  const index = lines.findIndex((l) => pattern.test(l))
  if (index >= 0) lines[index] = line
  else lines.push(line)
  return `${lines.join("\n")}\n`
}

/**
 * Finds a vendor CLI for a native harness: on the runner's PATH first, else
 * the `bin` of the npm package that ships it (installed next to Tether).
 * A JavaScript entry point is run with this Node (`node file.js`), so it
 * works without a shebang or an executable bit. Returns null when neither
 * exists; never runs the CLI.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { packageDir } from "../agents/common.js"
import { resolveCommand } from "../terminal.js"

export interface CliBinary {
  /** The program to spawn. */
  readonly command: string
  /** Arguments that come before the session's own (the script, for a Node entry point). */
  readonly prefix: ReadonlyArray<string>
  /** Where it was found, for readiness details. */
  readonly path: string
}

const binOf = (dir: string, command: string): string | null => {
  try {
    const manifest: unknown = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
    if (typeof manifest !== "object" || manifest === null || !("bin" in manifest)) return null
    const bin = manifest.bin
    if (typeof bin === "string") return join(dir, bin)
    if (typeof bin === "object" && bin !== null && command in bin) {
      const entry = (bin as Record<string, unknown>)[command]
      return typeof entry === "string" ? join(dir, entry) : null
    }
    return null
  } catch {
    return null
  }
}

const asBinary = (path: string): CliBinary =>
  /\.(c|m)?js$/.test(path) ? { command: process.execPath, prefix: [path], path } : { command: path, prefix: [], path }

/** An explicitly configured CLI (an absolute path), or null when it is not an executable file. */
export const cliAt = (path: string): CliBinary | null => {
  const found = resolveCommand(path, "/")
  return found === null ? null : asBinary(found)
}

/** `command` on PATH, else the bin of `packageName`; null when neither is there. */
export const findCli = (command: string, packageName: string, path = process.env["PATH"] ?? ""): CliBinary | null => {
  const onPath = resolveCommand(command, "/", path)
  if (onPath !== null) return asBinary(onPath)
  const dir = packageDir(packageName)
  const bin = dir === null ? null : binOf(dir, command)
  return bin === null ? null : asBinary(bin)
}

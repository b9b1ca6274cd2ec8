/**
 * The tools the `openai-agents` harness gives its agent (the Agents SDK has
 * no file or shell tools of its own), all confined to the session's working
 * directory:
 *
 * - `read_file {path}`: the file's text (at most `maxBytes`, marked when cut).
 * - `list_files {path}`: the entries of a directory, directories with a `/`.
 * - `write_file {path, content}`: creates or replaces a file (atomically). Needs approval.
 * - `run_command {command}`: `sh -c COMMAND` in the working directory, in a
 *   process group of the session's (so stop and interrupt reach it), with a
 *   time limit; answers the exit code and the combined output (cut to
 *   `maxBytes`). Needs approval.
 *
 * Paths are relative to the working directory; a path that leads outside it
 * is refused. Failures are answered as text the model can read, never thrown.
 */
import * as Effect from "effect/Effect"
import { readdir, readFile, stat } from "node:fs/promises"
import { isAbsolute, relative, resolve, sep } from "node:path"
import { writeFileAtomic } from "../../files/atomic-write.js"
import type { ProcessGroups } from "./process-groups.js"

export interface WorkspaceToolOptions {
  readonly cwd: string
  readonly groups: ProcessGroups
  /** Output and file contents beyond this are cut. Default 64 KiB. */
  readonly maxBytes?: number
  /** A command still running after this is killed. Default 120 s. */
  readonly commandTimeoutMs?: number
}

export interface ToolDefinition {
  readonly name: string
  readonly description: string
  readonly parameters: {
    readonly type: "object"
    readonly properties: Readonly<Record<string, { readonly type: "string"; readonly description: string }>>
    readonly required: ReadonlyArray<string>
    readonly additionalProperties: false
  }
  readonly needsApproval: boolean
  readonly run: (input: unknown, signal: AbortSignal | undefined) => Promise<string>
}

const field = (input: unknown, name: string): string | null => {
  if (typeof input !== "object" || input === null || !(name in input)) return null
  const value = (input as Record<string, unknown>)[name]
  return typeof value === "string" ? value : null
}

const schema = (properties: Record<string, string>) => ({
  type: "object" as const,
  properties: Object.fromEntries(Object.entries(properties).map(([name, description]) => [name, { type: "string" as const, description }])),
  required: Object.keys(properties),
  additionalProperties: false as const
})

const cut = (text: string, maxBytes: number): string =>
  Buffer.byteLength(text) <= maxBytes ? text : `${Buffer.from(text).subarray(0, maxBytes).toString("utf8")}\n[… cut at ${maxBytes} bytes]`

export const workspaceTools = (options: WorkspaceToolOptions): ReadonlyArray<ToolDefinition> => {
  const maxBytes = options.maxBytes ?? 65_536
  const timeoutMs = options.commandTimeoutMs ?? 120_000
  const root = resolve(options.cwd)

  /** The absolute path inside the working directory, or an error text. */
  const inside = (path: string | null): { readonly path: string } | { readonly error: string } => {
    if (path === null || path.length === 0) return { error: "error: a non-empty path is required" }
    const target = resolve(root, path)
    const rel = relative(root, target)
    if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return { error: `error: ${path} is outside the working directory` }
    return { path: target }
  }

  const describeFailure = (error: unknown) => `error: ${error instanceof Error ? error.message : String(error)}`

  return [
    {
      name: "read_file",
      description: "Read a text file in the working directory.",
      parameters: schema({ path: "Path relative to the working directory" }),
      needsApproval: false,
      run: async (input) => {
        const target = inside(field(input, "path"))
        if ("error" in target) return target.error
        try {
          return cut(await readFile(target.path, "utf8"), maxBytes)
        } catch (error) {
          return describeFailure(error)
        }
      }
    },
    {
      name: "list_files",
      description: "List the entries of a directory in the working directory (directories end with /).",
      parameters: schema({ path: "Directory relative to the working directory (\".\" for the working directory itself)" }),
      needsApproval: false,
      run: async (input) => {
        const target = inside(field(input, "path") ?? ".")
        if ("error" in target) return target.error
        try {
          const entries = await readdir(target.path, { withFileTypes: true })
          return entries.map((e) => (e.isDirectory() ? `${e.name}/` : e.name)).sort().join("\n")
        } catch (error) {
          return describeFailure(error)
        }
      }
    },
    {
      name: "write_file",
      description: "Create or replace a text file in the working directory.",
      parameters: schema({ path: "Path relative to the working directory", content: "The complete new content" }),
      needsApproval: true,
      run: async (input) => {
        const target = inside(field(input, "path"))
        if ("error" in target) return target.error
        const content = field(input, "content")
        if (content === null) return "error: content must be a string"
        try {
          const existing = await stat(target.path).catch(() => null)
          if (existing?.isDirectory() === true) return `error: ${field(input, "path")} is a directory`
          // An ordinary project file: readable by others like files the user's editor writes.
          await Effect.runPromise(writeFileAtomic(target.path, content, { mode: existing === null ? 0o644 : existing.mode & 0o777 }))
          return `wrote ${Buffer.byteLength(content)} bytes to ${relative(root, target.path)}`
        } catch (error) {
          return describeFailure(error)
        }
      }
    },
    {
      name: "run_command",
      description: "Run a shell command (sh -c) in the working directory; answers its exit code and output.",
      parameters: schema({ command: "The command line" }),
      needsApproval: true,
      run: (input, signal) =>
        new Promise((done) => {
          const command = field(input, "command")
          if (command === null || command.trim() === "") return done("error: a command is required")
          const child = options.groups.spawnDetached("sh", ["-c", command], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
          let output = ""
          const collect = (chunk: Buffer) => {
            if (Buffer.byteLength(output) <= maxBytes) output += chunk.toString("utf8")
          }
          child.stdout?.on("data", collect)
          child.stderr?.on("data", collect)
          const kill = () => {
            if (child.pid !== undefined) {
              try {
                process.kill(-child.pid, "SIGKILL")
              } catch {
                // already gone
              }
            }
          }
          const timer = setTimeout(kill, timeoutMs)
          signal?.addEventListener("abort", kill, { once: true })
          child.once("error", (error) => {
            clearTimeout(timer)
            done(describeFailure(error))
          })
          child.once("close", (code, killedBy) => {
            clearTimeout(timer)
            signal?.removeEventListener("abort", kill)
            const status = code === null ? `killed by ${killedBy ?? "a signal"}` : `exit code ${code}`
            done(`${status}\n${cut(output, maxBytes)}`)
          })
        })
    }
  ]
}

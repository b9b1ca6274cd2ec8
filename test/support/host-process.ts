/**
 * `tether host --name NAME` as a child process in its own process group, for
 * process-level tests: resolves once `isOnline` says the server sees it
 * (killing it and rejecting with its output otherwise); `stop` sends SIGTERM
 * to the group, SIGKILL after 10 s.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { childEnv, cliPath } from "./processes.js"

export interface HostProcess {
  readonly child: ChildProcess
  output(): string
  stop(): Promise<void>
}

export interface HostProcessOptions {
  readonly name: string
  /** TETHER_HOME of the host (its context says which server to dial). */
  readonly home: string
  readonly env?: Readonly<Record<string, string>>
  /** Whether the server lists the host online; polled every 50 ms. */
  readonly isOnline: () => Promise<boolean>
  /** Default 20 s. */
  readonly timeoutMs?: number
}

export const startHostProcess = async (options: HostProcessOptions): Promise<HostProcess> => {
  const child = spawn(process.execPath, [cliPath, "host", "--name", options.name], {
    env: childEnv(options.home, options.env),
    cwd: options.home,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  let output = ""
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const signal = (name: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, name)
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + (options.timeoutMs ?? 20_000)
  while (!(await options.isOnline().catch(() => false))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      signal("SIGKILL")
      throw new Error(`tether host ${options.name} did not come online\n--- host output ---\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    child,
    output: () => output,
    stop: async () => {
      signal("SIGTERM")
      const killer = setTimeout(() => signal("SIGKILL"), 10_000)
      await exited
      clearTimeout(killer)
    }
  }
}

/**
 * A second network peer for loopback-only tests.
 *
 * To prove that a route refuses non-loopback clients, a test must connect from
 * a genuinely different address, not fake a header. `create()` makes a Linux
 * network namespace joined to the host by a veth pair:
 *
 *     host   tth<id>h  10.231.N.(4k+1)/30   <-->   tth<id>p  10.231.N.(4k+2)/30   namespace tth<id>
 *
 * so a server in the test process bound to `hostAddress` sees connections from
 * `exec(...)`'d commands as coming from `peerAddress`. Only 10.231.x.x test
 * addresses are ever configured. Needs root; check `available()` first (or use
 * `requireNetns(ctx)` in a vitest test).
 */
import { spawnSync } from "node:child_process"
import { randomBytes, randomInt } from "node:crypto"
import { existsSync } from "node:fs"
import { run, type RunResult } from "./processes.js"

export interface NetnsExecOptions {
  /** Merged over the parent's environment. */
  readonly env?: Readonly<Record<string, string>>
  /** Written to stdin, which is then closed. */
  readonly input?: string
  /** Default 20 s; the command is SIGKILLed after it. */
  readonly timeoutMs?: number
  readonly cwd?: string
}

export interface NetworkNamespace {
  /** Namespace name, e.g. `tth1a2b3c4d`. */
  readonly name: string
  /** Host end of the veth pair. */
  readonly hostInterface: string
  /** Namespace end of the veth pair. */
  readonly peerInterface: string
  /** Address of the host end, e.g. `10.231.17.1`: bind servers here. */
  readonly hostAddress: string
  /** Address of the namespace end, e.g. `10.231.17.2`: what servers see as the remote address. */
  readonly peerAddress: string
  /** Runs `command args` inside the namespace (`ip netns exec`). Never rejects for a non-zero exit. */
  exec(command: string, args: ReadonlyArray<string>, options?: NetnsExecOptions): Promise<RunResult>
  /** Kills processes left in the namespace, deletes the veth pair and the namespace. Idempotent. */
  dispose(): Promise<void>
}

const IP_TIMEOUT_MS = 10_000
const TEST_ADDRESS = /^10\.231\.(\d{1,3})\.(\d{1,3})$/

const ipBinary: string = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find(existsSync) ?? "ip"

const parentEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value
  return env
}

/** Runs `ip ...args`; rejects with its stderr on failure. */
const ip = async (args: ReadonlyArray<string>): Promise<string> => {
  const result = await run(ipBinary, args, { env: parentEnv(), timeoutMs: IP_TIMEOUT_MS })
  if (result.code !== 0) {
    const why = result.timedOut ? `timed out after ${IP_TIMEOUT_MS} ms` : result.stderr.trim() || `exit ${result.code}`
    throw new Error(`ip ${args.join(" ")}: ${why}`)
  }
  return result.stdout
}

const ipSync = (args: ReadonlyArray<string>): void => {
  spawnSync(ipBinary, [...args], { stdio: "ignore", timeout: 5_000 })
}

const randomId = (): string => randomBytes(4).toString("hex")

const assertTestAddress = (address: string): void => {
  const match = TEST_ADDRESS.exec(address)
  if (match === null || Number(match[1]) > 255 || Number(match[2]) > 255) {
    throw new Error(`refusing to configure ${address}: only 10.231.x.x test addresses are allowed`)
  }
}

// Namespaces still alive when the test process exits are torn down synchronously.
const live = new Map<string, { readonly hostInterface: string }>()
let exitHookInstalled = false
const installExitHook = (): void => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const [name, { hostInterface }] of live) {
      const pids = spawnSync(ipBinary, ["netns", "pids", name], { encoding: "utf8", timeout: 5_000 }).stdout ?? ""
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL")
        } catch {
          // already gone
        }
      }
      ipSync(["link", "del", hostInterface])
      ipSync(["netns", "del", name])
    }
  })
}

export type Availability = { readonly ok: true } | { readonly ok: false; readonly reason: string }

const probe = async (): Promise<Availability> => {
  if (process.platform !== "linux") return { ok: false, reason: `not Linux (${process.platform})` }
  if (process.getuid?.() !== 0) return { ok: false, reason: "not running as root" }
  // Try the real thing once: a namespace plus a veth pair moved into it.
  const id = randomId()
  const name = `tth${id}`
  const hostInterface = `tth${id}h`
  installExitHook()
  live.set(name, { hostInterface })
  try {
    await ip(["netns", "add", name])
    await ip(["link", "add", hostInterface, "type", "veth", "peer", "name", `tth${id}p`])
    await ip(["link", "set", `tth${id}p`, "netns", name])
    return { ok: true }
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) }
  } finally {
    await ip(["link", "del", hostInterface]).catch(() => undefined)
    await ip(["netns", "del", name]).catch(() => undefined)
    live.delete(name)
  }
}

let availability: Promise<Availability> | undefined

/** Whether network namespaces can be created here, and why not (probed once, by really creating one). */
export const netnsAvailability = (): Promise<Availability> => (availability ??= probe())

/** `true` if we are root and `ip netns` plus veth pairs work. */
export const available = async (): Promise<boolean> => (await netnsAvailability()).ok

/**
 * For vitest: returns if namespaces are available; otherwise skips the test
 * with a warning, or fails it when `CI` is set (CI must run these tests).
 *
 *     it("refuses remote peers", async (ctx) => { await requireNetns(ctx); … })
 */
export const requireNetns = async (ctx: { readonly skip: (note?: string) => void }): Promise<void> => {
  const result = await netnsAvailability()
  if (result.ok) return
  const message = `network namespaces unavailable: ${result.reason}`
  if (process.env["CI"]) throw new Error(`${message} (CI is set, so this test must run)`)
  console.warn(`SKIPPING: ${message}`)
  ctx.skip(message)
}

/** Picks a /30 inside 10.231.0.0/16 that no host interface or route uses yet. */
const pickSubnet = async (): Promise<{ hostAddress: string; peerAddress: string }> => {
  const inUse = (await ip(["-4", "-o", "addr", "show"])) + (await ip(["-4", "route", "show", "table", "all"]))
  for (let attempt = 0; attempt < 20; attempt++) {
    const n = randomInt(0, 256)
    const base = 4 * randomInt(0, 64)
    const taken = [0, 1, 2, 3].some((i) => new RegExp(`\\b10\\.231\\.${n}\\.${base + i}\\b`).test(inUse))
    if (!taken) return { hostAddress: `10.231.${n}.${base + 1}`, peerAddress: `10.231.${n}.${base + 2}` }
  }
  throw new Error("no free /30 in 10.231.0.0/16 after 20 attempts")
}

const waitForCarrier = async (args: ReadonlyArray<string>, deadline: number): Promise<void> => {
  for (;;) {
    if ((await ip(args)).includes("LOWER_UP")) return
    if (Date.now() > deadline) throw new Error(`link not up in time: ip ${args.join(" ")}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/**
 * Creates a network namespace linked to the host by a veth pair with
 * addresses from 10.231.0.0/16, links up (including `lo` in the namespace).
 * Always `dispose()` it (it is also removed at process exit).
 */
export const create = async (): Promise<NetworkNamespace> => {
  const id = randomId()
  const name = `tth${id}`
  const hostInterface = `tth${id}h`
  const peerInterface = `tth${id}p`

  let disposing: Promise<void> | undefined
  const dispose = (): Promise<void> =>
    (disposing ??= (async () => {
      const pids = await ip(["netns", "pids", name]).catch(() => "")
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL")
        } catch {
          // already gone
        }
      }
      await ip(["link", "del", hostInterface]).catch(() => undefined) // deletes both ends
      await ip(["netns", "del", name]).catch(() => undefined)
      live.delete(name)
      if (existsSync(`/run/netns/${name}`)) throw new Error(`network namespace ${name} still exists after dispose`)
    })())

  installExitHook()
  live.set(name, { hostInterface })
  try {
    const { hostAddress, peerAddress } = await pickSubnet()
    assertTestAddress(hostAddress)
    assertTestAddress(peerAddress)
    await ip(["netns", "add", name])
    await ip(["link", "add", hostInterface, "type", "veth", "peer", "name", peerInterface])
    await ip(["link", "set", peerInterface, "netns", name])
    await ip(["addr", "add", `${hostAddress}/30`, "dev", hostInterface])
    await ip(["-n", name, "addr", "add", `${peerAddress}/30`, "dev", peerInterface])
    await ip(["link", "set", hostInterface, "up"])
    await ip(["-n", name, "link", "set", peerInterface, "up"])
    await ip(["-n", name, "link", "set", "lo", "up"])
    const deadline = Date.now() + 5_000
    await waitForCarrier(["-o", "link", "show", "dev", hostInterface], deadline)
    await waitForCarrier(["-n", name, "-o", "link", "show", "dev", peerInterface], deadline)

    const exec = (
      command: string,
      args: ReadonlyArray<string>,
      options: NetnsExecOptions = {}
    ): Promise<RunResult> => {
      if (disposing !== undefined) return Promise.reject(new Error(`network namespace ${name} is disposed`))
      return run(ipBinary, ["netns", "exec", name, command, ...args], {
        env: { ...parentEnv(), ...options.env },
        timeoutMs: options.timeoutMs ?? 20_000,
        ...(options.input === undefined ? {} : { input: options.input }),
        ...(options.cwd === undefined ? {} : { cwd: options.cwd })
      })
    }

    return { name, hostInterface, peerInterface, hostAddress, peerAddress, exec, dispose }
  } catch (error) {
    await dispose().catch(() => undefined)
    throw error
  }
}

// Cold-start benchmark of the bundled CLI (`npm run bench:cli`).
//
// Times whole processes (spawn to exit) of bare `node -e 0` and of a few
// `tether` commands, interleaved round-robin so machine drift affects all of
// them equally, and reports how far each command is from bare node.
//
// Usage: node bench/cli-cold-start.mjs [--runs N]   (default 25)
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const TARGET_MS = 120
const WARMUP_ROUNDS = 3
const MAX_RUNS = 1000
const RUN_TIMEOUT_MS = 30_000
const TOTAL_BUDGET_MS = 5 * 60_000

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const bundle = join(root, "dist", "tether.mjs")

const parseRuns = (argv) => {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = arg === "--runs" ? argv[i + 1] : arg.startsWith("--runs=") ? arg.slice(7) : undefined
    if (value === undefined) continue
    const n = Number(value)
    if (!Number.isInteger(n) || n < 1 || n > MAX_RUNS) {
      console.error(`--runs must be an integer between 1 and ${MAX_RUNS}, got ${value}`)
      process.exit(2)
    }
    return n
  }
  return 25
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]

const summarize = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b)
  return { median: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), min: sorted[0], n: sorted.length }
}

const main = () => {
  const runs = parseRuns(process.argv.slice(2))
  if (!existsSync(bundle)) {
    console.error(`${bundle} is missing: run \`npm run build\` first (or \`npm run bench:cli\`).`)
    process.exit(1)
  }

  const home = mkdtempSync(join(tmpdir(), "tether-bench-"))
  const cleanup = () => rmSync(home, { recursive: true, force: true })
  process.once("SIGINT", () => {
    cleanup()
    process.exit(130)
  })

  try {
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("TETHER_")))
    env.TETHER_HOME = home
    env.NO_COLOR = "1"

    const commands = [
      { label: "node -e 0 (baseline)", args: ["-e", "0"] },
      { label: "tether --help", args: [bundle, "--help"] },
      { label: "tether contexts list", args: [bundle, "contexts", "list"] }
    ]
    const samples = commands.map(() => [])
    const failures = commands.map(() => undefined)

    const runOnce = (command, index, record) => {
      const start = process.hrtime.bigint()
      const result = spawnSync(process.execPath, command.args, {
        cwd: home,
        env,
        stdio: ["ignore", "ignore", "pipe"],
        timeout: RUN_TIMEOUT_MS
      })
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      if (result.error !== undefined || result.status !== 0) {
        failures[index] ??= result.error?.message ??
          `exit ${result.status ?? result.signal}: ${String(result.stderr).trim().split("\n")[0] ?? ""}`
      }
      if (record) samples[index].push(ms)
    }

    console.log(`node ${process.version}, ${runs} runs (+${WARMUP_ROUNDS} warm-up) per command, interleaved`)
    const deadline = Date.now() + TOTAL_BUDGET_MS
    for (let round = 0; round < WARMUP_ROUNDS + runs; round++) {
      if (Date.now() > deadline) {
        console.warn(`time budget of ${TOTAL_BUDGET_MS / 1000} s exhausted after ${round} rounds; reporting what we have`)
        break
      }
      commands.forEach((command, index) => runOnce(command, index, round >= WARMUP_ROUNDS))
    }

    const stats = samples.map(summarize)
    const baseline = stats[0]
    const fmt = (ms) => (ms === undefined ? "-" : ms.toFixed(1))
    const rows = commands.map((command, index) => {
      const s = stats[index]
      const isBaseline = index === 0
      return [
        command.label,
        fmt(s.median),
        fmt(s.p90),
        fmt(s.min),
        isBaseline ? "" : `${s.median - baseline.median >= 0 ? "+" : ""}${fmt(s.median - baseline.median)}`,
        isBaseline ? "" : `${(s.median / baseline.median).toFixed(2)}x`
      ]
    })
    const header = ["command", "median ms", "p90 ms", "min ms", "vs node ms", "ratio"]
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
    const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
    console.log()
    console.log(line(header))
    console.log(widths.map((w) => "-".repeat(w)).join("  "))
    rows.forEach((r) => console.log(line(r)))
    console.log()

    commands.forEach((command, index) => {
      if (failures[index] !== undefined) console.warn(`warning: ${command.label} failed: ${failures[index]}`)
    })
    commands.slice(1).forEach((command, i) => {
      const delta = stats[i + 1].median - baseline.median
      const met = delta <= TARGET_MS
      console.log(
        `${met ? "OK  " : "MISS"} ${command.label}: median ${fmt(delta)} ms over bare node ` +
          `(target: within ${TARGET_MS} ms)`
      )
    })
  } finally {
    cleanup()
  }
}

main()

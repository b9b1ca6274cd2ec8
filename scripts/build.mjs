// Bundles the `tether` CLI for a fast cold start:
//
//   dist/tether.mjs    the executable: a tiny launcher (src/bin/launcher.ts)
//   dist/tether.cjs    the program (src/bin/tether.ts), one minified CommonJS
//                      bundle; modules reached only through dynamic `import()`
//                      (server, SQL drivers …) are evaluated only when used
//   dist/tether.cache  V8 code cache for the program, recorded by running
//                      `tether --help` and `tether contexts list`, so start-up
//                      skips most compiling
//   dist/mirror-worker.cjs  the server's terminal screen mirror worker
//                      (src/bin/mirror-worker.ts): xterm and the mirror only
//   dist/*.LEGAL.txt   licence notices of the bundled packages
//   dist/web/          the web UI (Vite build of web/), served by the server at /
//
// The bundle is written to a fresh staging directory and then swapped in for
// dist/ with two renames, so dist/ never holds stale chunks and other
// processes (tests running the CLI) never see a half-written bundle. A failed
// build leaves the previous dist/ untouched and exits non-zero.
//
// Usage: node scripts/build.mjs
import * as esbuild from "esbuild"
import { spawnSync } from "node:child_process"
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises"
import { dirname, join, relative, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const dist = join(root, "dist")
const programEntry = join(root, "src/bin/tether.ts")
const launcherEntry = join(root, "src/bin/launcher.ts")
const mirrorWorkerEntry = join(root, "src/bin/mirror-worker.ts")
// Same filesystem as dist/ (so rename is atomic) and ignored by git.
const stagingRoot = join(root, "node_modules", ".cache", "tether-build")

// Never bundled: native addons (loaded at runtime from node_modules) and
// optional requires that our dependencies wrap in try/catch.
const external = [
  "better-sqlite3", // native; @effect/sql-sqlite-node
  "node-pty", // native; runner PTYs
  "pg-native", // optional peer of pg (pg.native), never installed
  "pg-cloudflare", // optional dependency of pg, Cloudflare Workers only
  "cloudflare:sockets", // imported by pg-cloudflare
  "bufferutil", // optional native speed-ups of ws
  "utf-8-validate",
  "msgpackr-extract", // optional native speed-up of msgpackr (falls back to JS)
  "@parcel/watcher", // native; only with @effect/platform-node's ParcelWatcher layer
  "cpu-features", // optional native dependency of ssh2, should it ever appear
  // Agent SDKs: loaded with import() only when a harness starts a session (never by the server)
  "@anthropic-ai/claude-agent-sdk",
  "@openai/codex-sdk",
  "@openai/agents",
  "@mariozechner/pi-coding-agent"
]

const shebang = "#!/usr/bin/env node\n"

const formatBytes = (n) => n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MB` : `${(n / 1024).toFixed(1)} kB`

const main = async () => {
  const started = performance.now()
  const staging = join(stagingRoot, `out-${process.pid}`)
  await rm(staging, { recursive: true, force: true })
  await mkdir(stagingRoot, { recursive: true })

  let result
  try {
    const common = {
      absWorkingDir: root,
      bundle: true,
      platform: "node",
      target: "node20",
      minify: true,
      treeShaking: true,
      logLevel: "warning"
    }
    result = await esbuild.build({
      ...common,
      entryPoints: [programEntry],
      outfile: join(staging, "tether.cjs"),
      format: "cjs",
      metafile: true,
      // Licence comments in dist/tether.cjs.LEGAL.txt: they are the only text esbuild does not
      // escape to ASCII, and an ASCII program is quicker for the launcher to read.
      legalComments: "external",
      external
    })
    // The server's screen mirror worker: a bundle of its own, so the worker loads xterm and the mirror only.
    await esbuild.build({
      ...common,
      entryPoints: [mirrorWorkerEntry],
      outfile: join(staging, "mirror-worker.cjs"),
      format: "cjs",
      legalComments: "external",
      external
    })
    await esbuild.build({
      ...common,
      entryPoints: [launcherEntry],
      outfile: join(staging, "tether.mjs"),
      format: "esm"
    })
    // The web UI (web/ → dist/web), which the server serves at `/`.
    const { build: viteBuild } = await import("vite")
    await viteBuild({ configFile: join(root, "web/vite.config.ts"), build: { outDir: join(staging, "web") } })
  } catch {
    // esbuild has already printed the errors (logLevel "warning" includes them).
    await rm(staging, { recursive: true, force: true })
    console.error("build: failed (dist/ left as it was)")
    process.exitCode = 1
    return
  }

  // The launcher is the executable: it needs the shebang and the x bit.
  const entryOut = join(staging, "tether.mjs")
  const code = await readFile(entryOut, "utf8")
  if (!code.startsWith("#!")) await writeFile(entryOut, shebang + code)
  await chmod(entryOut, 0o755)
  // Paths in the metafile name the staging directory; make them name dist/.
  const stagingRel = relative(root, staging).split(sep).join("/")
  await writeFile(join(staging, "meta.json"), JSON.stringify(result.metafile).replaceAll(`"${stagingRel}/`, "\"dist/"))

  // Record the code cache: run the launcher the way users start it, once per
  // command below. `--help` compiles the command tree and the help text (it
  // never starts the Effect runtime); `contexts list` compiles what every other
  // command shares (runtime, argument parsing, layers, reading the context
  // file). Each run starts from the cache the previous one wrote, so the last
  // cache holds what both compiled.
  for (const args of [["--help"], ["contexts", "list"]]) {
    const recorded = spawnSync(process.execPath, [entryOut, ...args], {
      cwd: root,
      env: { ...process.env, TETHER_BUILD_WRITE_CODE_CACHE: join(staging, "tether.cache"), TETHER_HOME: join(staging, ".home") },
      stdio: ["ignore", "ignore", "inherit"],
      timeout: 30_000
    })
    if (recorded.status !== 0) {
      await rm(join(staging, ".home"), { recursive: true, force: true })
      throw new Error(`recording the code cache (tether ${args.join(" ")}) failed (exit ${recorded.status})`)
    }
  }
  await rm(join(staging, ".home"), { recursive: true, force: true })

  // Swap: dist -> old, staging -> dist, remove old. Retried a few times in
  // case a concurrent build puts its own dist/ in place between the renames.
  for (let attempt = 1;; attempt++) {
    const old = join(stagingRoot, `old-${process.pid}-${attempt}`)
    await rename(dist, old).catch((error) => {
      if (error.code !== "ENOENT") throw error
    })
    await rm(old, { recursive: true, force: true })
    try {
      await rename(staging, dist)
      break
    } catch (error) {
      if (attempt >= 5 || (error.code !== "ENOTEMPTY" && error.code !== "EEXIST")) throw error
    }
  }

  const size = async (name) => (await readFile(join(dist, name))).length
  const ms = Math.round(performance.now() - started)
  console.log(
    `build: dist/tether.cjs ${formatBytes(await size("tether.cjs"))}, launcher ${formatBytes(await size("tether.mjs"))}, ` +
      `mirror worker ${formatBytes(await size("mirror-worker.cjs"))}, ` +
      `code cache ${formatBytes(await size("tether.cache"))} in ${ms} ms; metafile dist/meta.json`
  )
}

main().catch((error) => {
  console.error("build: failed:", error)
  process.exitCode = 1
})

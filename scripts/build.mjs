// Bundles the `tether` CLI into dist/tether.mjs (minified ESM, code-split).
//
// The entry stays small so `tether --help` starts fast; anything the entry
// loads with a dynamic `import()` (server, SQL drivers, …) lands in
// dist/chunks/ and is only read when used.
//
// The bundle is written to a fresh staging directory and then swapped in for
// dist/ with two renames, so dist/ never holds stale chunks and other
// processes (tests running the CLI) never see a half-written bundle. A failed
// build leaves the previous dist/ untouched and exits non-zero.
//
// Usage: node scripts/build.mjs
import * as esbuild from "esbuild"
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises"
import { dirname, join, relative, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const dist = join(root, "dist")
const entry = join(root, "src/bin/tether.ts")
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
  "cpu-features" // optional native dependency of ssh2, should it ever appear
]

// An ESM bundle has no `require`; CommonJS dependencies that call it
// (e.g. `require("node:events")`) need one. The import is renamed so it
// cannot collide with a bundled `createRequire`.
const requireBanner = "import { createRequire as __tetherCreateRequire } from \"node:module\";" +
  "const require = __tetherCreateRequire(import.meta.url);"

const shebang = "#!/usr/bin/env node\n"

const formatBytes = (n) => n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MB` : `${(n / 1024).toFixed(1)} kB`

const main = async () => {
  const started = performance.now()
  const staging = join(stagingRoot, `out-${process.pid}`)
  await rm(staging, { recursive: true, force: true })
  await mkdir(stagingRoot, { recursive: true })

  let result
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: { tether: entry },
      outdir: staging,
      outExtension: { ".js": ".mjs" },
      chunkNames: "chunks/[name]-[hash]",
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      minify: true,
      treeShaking: true,
      metafile: true,
      external,
      banner: { js: requireBanner },
      logLevel: "warning"
    })
  } catch {
    // esbuild has already printed the errors (logLevel "warning" includes them).
    await rm(staging, { recursive: true, force: true })
    console.error("build: failed (dist/ left as it was)")
    process.exitCode = 1
    return
  }

  // The shebang must be the very first line of the entry only (not the chunks).
  // If the source already has one esbuild keeps it; don't add a second.
  const entryOut = join(staging, "tether.mjs")
  const code = await readFile(entryOut, "utf8")
  if (!code.startsWith("#!")) await writeFile(entryOut, shebang + code)
  await chmod(entryOut, 0o755)
  // Paths in the metafile name the staging directory; make them name dist/.
  const stagingRel = relative(root, staging).split(sep).join("/")
  await writeFile(join(staging, "meta.json"), JSON.stringify(result.metafile).replaceAll(`"${stagingRel}/`, "\"dist/"))

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

  let entryBytes = 0
  let chunkBytes = 0
  let chunkCount = 0
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    if (resolve(root, file) === entryOut) entryBytes = info.bytes
    else {
      chunkBytes += info.bytes
      chunkCount += 1
    }
  }
  const ms = Math.round(performance.now() - started)
  console.log(
    `build: dist/tether.mjs ${formatBytes(entryBytes)}` +
      ` + ${chunkCount} chunk${chunkCount === 1 ? "" : "s"} ${formatBytes(chunkBytes)}` +
      ` (total ${formatBytes(entryBytes + chunkBytes)}) in ${ms} ms; metafile dist/meta.json`
  )
}

main().catch((error) => {
  console.error("build: failed:", error)
  process.exitCode = 1
})

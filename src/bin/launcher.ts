/**
 * The `tether` executable. Node 20 has no built-in compile cache, so this
 * launcher runs the CommonJS program bundle (dist/tether.cjs) through
 * vm.Script with the V8 code cache the build produced (dist/tether.cache).
 * A cache V8 rejects (other Node version or flags) only costs a normal compile.
 * No Tether logic lives here.
 */
import { isAscii } from "node:buffer"
import * as NodeFs from "node:fs"
import { createRequire } from "node:module"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as NodeVm from "node:vm"

const dir = NodePath.dirname(fileURLToPath(import.meta.url))
const program = NodePath.join(dir, "tether.cjs")
const cachePath = NodePath.join(dir, "tether.cache")

const readCache = (): Buffer | undefined => {
  try {
    return NodeFs.readFileSync(cachePath)
  } catch {
    return undefined
  }
}

// The build keeps the program ASCII (esbuild escapes everything else; licence comments go to
// tether.cjs.LEGAL.txt), and latin1 makes a string of ASCII bytes ~4x faster than UTF-8
// decoding does (~1 ms instead of ~5 ms for the 2 MB program).
const bytes = NodeFs.readFileSync(program)
const source = bytes.toString(isAscii(bytes) ? "latin1" : "utf8").replace(/^#!.*/, "")
const cachedData = readCache()
const script = new NodeVm.Script(
  `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
  cachedData === undefined ? { filename: program } : { filename: program, cachedData }
)

// `import()` inside the program has no loader (see src/services/modules/importModule.ts):
// packages loaded on first use (node-pty, agent SDKs) come through this module's own.
Reflect.set(globalThis, Symbol.for("tether.importModule"), (specifier: string) => import(specifier))

// The build runs the CLI with this set (`--help`, then `contexts list`, each run adding to the
// cache the previous one wrote) to record which functions start-up compiles.
const writeCacheTo = process.env["TETHER_BUILD_WRITE_CODE_CACHE"]
if (writeCacheTo !== undefined) {
  process.once("exit", () => NodeFs.writeFileSync(writeCacheTo, script.createCachedData()))
}

const wrapper = script.runInThisContext() as (
  exports: object,
  require: NodeJS.Require,
  module: { exports: object },
  filename: string,
  dirname: string
) => void
const module = { exports: {} }
wrapper.call(module.exports, module.exports, createRequire(program), module, program, dir)

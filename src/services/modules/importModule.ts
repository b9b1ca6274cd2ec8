/**
 * Loads a package at run time, on first use (node-pty, agent SDKs: heavy or
 * native, and never needed by the server or by most commands).
 *
 * The CLI runs as a CommonJS bundle inside a `vm.Script` with a V8 code cache
 * (see src/bin/launcher.ts), where a plain `import()` has no module loader
 * (functions restored from the code cache lose it). The launcher, a real ES
 * module, installs a loader under `Symbol.for("tether.importModule")`; from
 * source (tests) the native `import()` is used.
 */
export const IMPORT_MODULE_HOOK = Symbol.for("tether.importModule")

type Loader = (specifier: string) => Promise<unknown>

const installed = (): Loader | undefined => {
  const hook: unknown = Reflect.get(globalThis, IMPORT_MODULE_HOOK)
  return typeof hook === "function" ? (specifier: string) => Promise.resolve(hook(specifier)) : undefined
}

/** `import(specifier)`, through the launcher's loader when there is one. */
export const importModule = <A>(specifier: string): Promise<A> =>
  (installed() ?? ((s: string) => import(s)))(specifier) as Promise<A>

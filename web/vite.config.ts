/**
 * Vite build of the web UI: `web/` → `dist/web` (scripts/build.mjs and the
 * tests pass their own `build.outDir`). Hashed files go to `assets/`; no
 * script or style is inlined, so the strict Content-Security-Policy holds.
 */
import { resolve } from "node:path"
import { defineConfig } from "vite"

const webRoot = import.meta.dirname

export default defineConfig({
  root: webRoot,
  base: "/",
  publicDir: resolve(webRoot, "public"),
  logLevel: "warn",
  build: {
    outDir: resolve(webRoot, "../dist/web"),
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1024
  }
})

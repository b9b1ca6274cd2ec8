import pkg from "../../package.json" with { type: "json" }

/** The running Tether version (from package.json, inlined by the bundler). */
export const TETHER_VERSION: string = pkg.version

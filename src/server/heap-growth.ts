/**
 * How far the server lets V8's old generation grow past what was live at the
 * last full collection before it starts the next one.
 *
 * V8 picks that factor itself, from how fast the program allocates on its
 * heap compared with how fast the collector works: from 4 down to 1.1. The
 * relay allocates little on the heap (its bytes live in buffers outside it),
 * so V8 often picks a small factor. But V8 also counts the buffers allocated
 * since the last full collection against that limit, and at full speed the
 * relay has up to about 35 MB of them waiting for the next young-generation
 * collection. With a heap of a few tens of MB (a server with some dozens of
 * sessions) a small factor leaves less room than that, and V8 then starts a
 * full collection after nearly every young one: during a burst of terminal
 * output the server ran dozens of full collections per 100 MB that freed
 * almost nothing, and spent about twice the CPU per MB (docs/benchmarks.md,
 * session 6). Whether a burst hit this depended on the factor V8 happened to
 * pick at the collection before it. A fixed factor of 3 (200 %) leaves room
 * for those buffers from about 20 MB of live heap up, which a server always
 * has; it is within the range V8 uses itself (up to 4).
 *
 * `TETHER_HEAP_GROWTH` sets the percentage (default 200; 0 leaves V8's own
 * choice). A `--heap-growing-percent` given to node directly wins.
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as NodeV8 from "node:v8"

export const DEFAULT_HEAP_GROWTH_PERCENT = 200

export const heapGrowthPercent = Config.integer("TETHER_HEAP_GROWTH").pipe(
  Config.validate({
    message: "TETHER_HEAP_GROWTH must be a percentage between 0 (V8 decides) and 1000",
    validation: (n) => n >= 0 && n <= 1000
  }),
  Config.withDefault(DEFAULT_HEAP_GROWTH_PERCENT)
)

/** Sets V8's heap growing factor for this process (V8 reads the flag at every full collection). */
export const tuneHeapGrowth = Effect.gen(function*() {
  const percent = yield* heapGrowthPercent
  const given = process.execArgv.some((arg) => arg.replace(/_/g, "-").startsWith("--heap-growing-percent"))
  if (percent === 0 || given) return
  NodeV8.setFlagsFromString(`--heap-growing-percent=${percent}`)
})

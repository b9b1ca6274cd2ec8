/**
 * TETHER_HEAP_GROWTH: the server's heap growing factor, a percentage from 0
 * (V8 decides) to 1000, 200 unless set; anything else is a configuration
 * error naming the variable.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { DEFAULT_HEAP_GROWTH_PERCENT, heapGrowthPercent } from "../../src/server/heap-growth.js"

const read = (value: string | undefined) =>
  Effect.runSync(
    Effect.either(heapGrowthPercent).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(value === undefined ? [] : [["TETHER_HEAP_GROWTH", value]])))
    )
  )

describe("TETHER_HEAP_GROWTH", () => {
  it("defaults to 200 %", () => {
    assert.deepStrictEqual(read(undefined), Either.right(DEFAULT_HEAP_GROWTH_PERCENT))
    assert.strictEqual(DEFAULT_HEAP_GROWTH_PERCENT, 200)
  })

  it("takes 0 (V8 decides) up to 1000", () => {
    assert.deepStrictEqual(read("0"), Either.right(0))
    assert.deepStrictEqual(read("1000"), Either.right(1000))
  })

  it("refuses negatives, huge values and non-numbers with an error naming the variable", () => {
    for (const bad of ["-1", "1001", "fast", "1.5"]) {
      const result = read(bad)
      assert.isTrue(Either.isLeft(result), bad)
      if (Either.isLeft(result)) assert.include(String(result.left), "TETHER_HEAP_GROWTH", bad)
    }
  })
})

import { assert, describe, it } from "@effect/vitest"
import * as NodeFs from "node:fs"
import { openApiDocument } from "../../src/server/openapi.js"

describe("OpenAPI", () => {
  it("docs/api/openapi.json is the document generated from the HttpApi (run `npm run openapi` after API changes)", () => {
    const checkedIn = JSON.parse(NodeFs.readFileSync(new URL("../../docs/api/openapi.json", import.meta.url), "utf8"))
    assert.deepStrictEqual(checkedIn, JSON.parse(JSON.stringify(openApiDocument())))
  })
})

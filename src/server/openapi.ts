import * as OpenApi from "@effect/platform/OpenApi"
import { TetherApi } from "../domain/api/index.js"

/** The OpenAPI document served at /api/openapi.json and checked into docs/api/. */
export const openApiDocument = () => OpenApi.fromApi(TetherApi)

/**
 * The model gateway: providers (API keys encrypted with the server's master
 * key), the model restriction of inference keys, and per-request usage.
 *
 * - `providers.api_key` holds `v1.<base64 iv|tag|ciphertext>` (AES-256-GCM,
 *   the provider name as associated data) or NULL; never a plaintext key.
 * - `providers.models` is a JSON array of `{id, contextWindow, maxOutputTokens}`.
 * - `inference_key_models.models` is a JSON array of model globs; a key
 *   without a row is unrestricted. Rows go with their token.
 * - `gateway_usage` has no foreign key to the token: usage outlives revocation.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { idTextType } from "./id-text.js"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const idText = idTextType(sql)

  yield* sql`
    CREATE TABLE providers (
      name ${idText} PRIMARY KEY,
      base_url TEXT NOT NULL,
      format TEXT NOT NULL,
      api_key TEXT NULL,
      models TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      created_by TEXT NOT NULL
    )`

  yield* sql`
    CREATE TABLE inference_key_models (
      key_id ${idText} PRIMARY KEY REFERENCES access_tokens (id) ON DELETE CASCADE,
      models TEXT NOT NULL
    )`

  yield* sql`
    CREATE TABLE gateway_usage (
      id ${idText} PRIMARY KEY,
      at BIGINT NOT NULL,
      key_id ${idText} NOT NULL,
      key_prefix TEXT NOT NULL,
      format TEXT NOT NULL,
      model TEXT NOT NULL,
      status INT NOT NULL,
      input_tokens INT NULL,
      output_tokens INT NULL,
      latency_ms INT NOT NULL,
      first_byte_ms INT NULL,
      error TEXT NULL
    )`
  yield* sql`CREATE INDEX gateway_usage_at_idx ON gateway_usage (at, id)`
  yield* sql`CREATE INDEX gateway_usage_key_at_idx ON gateway_usage (key_id, at)`
})

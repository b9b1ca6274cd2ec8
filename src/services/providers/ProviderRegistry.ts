/**
 * ProviderRegistry: adds, lists and removes model providers, keeps their API
 * keys sealed with the MasterKey, and resolves a provider for the gateway
 * (with its key opened, as a Redacted value that is only ever put in the
 * upstream request's headers).
 *
 * The catalog (`GET /v1/models`) is every listed model of every provider,
 * as `provider/model`. Resolved providers are cached for RESOLVE_CACHE_MS.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import { InvalidRequest } from "../../domain/errors.js"
import {
  type CreateProviderRequest,
  normalizeBaseUrl,
  ProviderExists,
  ProviderInfo,
  ProviderModel,
  ProviderNotFound,
  type ProviderUnreachable
} from "../../domain/provider.js"
import { MasterKey, type MasterKeyUnavailable } from "../master-key/MasterKey.js"
import type { SealedValueUnreadable } from "../master-key/cipher.js"
import { discoverModels } from "./discovery.js"
import { ProviderRepo, type ProviderRow } from "./ProviderRepo.js"

/** How long a resolved provider is reused before it is read again. */
export const RESOLVE_CACHE_MS = 2_000

/** A provider ready for a request: its row and its opened API key (null when it has none). */
export interface ResolvedProvider {
  readonly row: ProviderRow
  readonly apiKey: Redacted.Redacted<string> | null
}

/** One entry of the catalog. */
export interface CatalogModel {
  /** `provider/model`. */
  readonly id: string
  readonly provider: string
  readonly createdAt: number
  readonly contextWindow: number | null
  readonly maxOutputTokens: number | null
}

export const toProviderInfo = (row: ProviderRow): ProviderInfo =>
  new ProviderInfo({
    name: row.name,
    baseUrl: row.baseUrl,
    format: row.format,
    hasApiKey: row.sealedApiKey !== null,
    models: row.models,
    createdAt: DateTime.unsafeMake(row.createdAt),
    createdBy: row.createdBy
  })

const modelsFromSpecs = (specs: NonNullable<CreateProviderRequest["models"]>): Array<ProviderModel> => {
  const byId = new Map<string, ProviderModel>()
  for (const spec of specs) {
    const model = typeof spec === "string"
      ? new ProviderModel({ id: spec, contextWindow: null, maxOutputTokens: null })
      : new ProviderModel({ id: spec.id, contextWindow: spec.contextWindow ?? null, maxOutputTokens: spec.maxOutputTokens ?? null })
    byId.set(model.id, model)
  }
  return [...byId.values()]
}

export class ProviderRegistry extends Effect.Service<ProviderRegistry>()("tether/ProviderRegistry", {
  effect: Effect.gen(function*() {
    const repo = yield* ProviderRepo
    const masterKey = yield* MasterKey
    const http = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerPropagation(false))

    const notFound = (name: string) =>
      new ProviderNotFound({ name, error: `no provider named ${JSON.stringify(name)} (see \`tether providers list\`)` })

    const add = Effect.fn("ProviderRegistry.add")(function*(
      request: CreateProviderRequest,
      createdBy: string
    ): Effect.fn.Return<
      ProviderInfo,
      InvalidRequest | ProviderExists | ProviderUnreachable | MasterKeyUnavailable
    > {
      const baseUrl = normalizeBaseUrl(request.baseUrl)
      if (Either.isLeft(baseUrl)) return yield* new InvalidRequest({ error: baseUrl.left })
      if (Option.isSome(yield* repo.get(request.name))) {
        return yield* new ProviderExists({
          name: request.name,
          error: `a provider named ${JSON.stringify(request.name)} exists; remove it first (\`tether providers rm ${request.name}\`)`
        })
      }
      const apiKey = request.apiKey ?? null
      const models = request.models !== undefined
        ? modelsFromSpecs(request.models)
        : request.discover
        ? yield* discoverModels({ name: request.name, baseUrl: baseUrl.right, format: request.format }, apiKey).pipe(
          Effect.provideService(HttpClient.HttpClient, http)
        )
        : []
      const row: ProviderRow = {
        name: request.name,
        baseUrl: baseUrl.right,
        format: request.format,
        sealedApiKey: apiKey === null ? null : yield* masterKey.seal(apiKey, request.name),
        models,
        createdAt: yield* Clock.currentTimeMillis,
        createdBy
      }
      resolved.delete(request.name)
      if (!(yield* repo.insert(row))) {
        return yield* new ProviderExists({ name: request.name, error: `a provider named ${JSON.stringify(request.name)} exists` })
      }
      return toProviderInfo(row)
    })

    const list = Effect.map(repo.list, (rows) => rows.map(toProviderInfo))

    const get = Effect.fn("ProviderRegistry.get")(function*(name: string): Effect.fn.Return<ProviderInfo, ProviderNotFound> {
      const row = yield* repo.get(name)
      if (Option.isNone(row)) return yield* notFound(name)
      return toProviderInfo(row.value)
    })

    const remove = Effect.fn("ProviderRegistry.remove")(function*(name: string): Effect.fn.Return<void, ProviderNotFound> {
      resolved.delete(name)
      if (!(yield* repo.remove(name))) return yield* notFound(name)
    })

    // Resolved providers are kept for RESOLVE_CACHE_MS: a request then costs no
    // query and no decryption. Changes made here drop the entry at once; those
    // made by another server instance on the same database show within that time.
    const resolved = new Map<string, { readonly at: number; readonly value: ResolvedProvider }>()

    /** The provider and its opened key, for forwarding a request. */
    const resolve = Effect.fn("ProviderRegistry.resolve")(function*(
      name: string
    ): Effect.fn.Return<ResolvedProvider, ProviderNotFound | MasterKeyUnavailable | SealedValueUnreadable> {
      const now = yield* Clock.currentTimeMillis
      const cached = resolved.get(name)
      if (cached !== undefined && now - cached.at < RESOLVE_CACHE_MS) return cached.value
      const row = yield* repo.get(name)
      if (Option.isNone(row)) {
        resolved.delete(name)
        return yield* notFound(name)
      }
      const sealed = row.value.sealedApiKey
      const value = { row: row.value, apiKey: sealed === null ? null : yield* masterKey.open(sealed, name) }
      if (resolved.size >= 1000) resolved.clear()
      resolved.set(name, { at: now, value })
      return value
    })

    const catalog: Effect.Effect<ReadonlyArray<CatalogModel>> = Effect.map(repo.list, (rows) =>
      rows.flatMap((row) =>
        row.models.map((model) => ({
          id: `${row.name}/${model.id}`,
          provider: row.name,
          createdAt: row.createdAt,
          contextWindow: model.contextWindow,
          maxOutputTokens: model.maxOutputTokens
        }))
      ))

    return { add, list, get, remove, resolve, catalog } as const
  })
}) {}

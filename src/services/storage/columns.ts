/**
 * Column codecs shared by the repositories, so SQLite and PostgreSQL rows
 * decode to the same values.
 */
import * as Schema from "effect/Schema"

/**
 * A point in time as epoch milliseconds, stored in a BIGINT column.
 * SQLite hands back a number; node-postgres hands BIGINT back as a decimal
 * string (it may exceed 2^53 in general). Both decode to a safe integer;
 * encoding always produces a number.
 */
export const EpochMillis: Schema.Schema<number, number | string> = Schema.Union(
  Schema.Int,
  Schema.NumberFromString.pipe(Schema.int())
).annotations({ identifier: "EpochMillis" })

/** A nullable BIGINT time column. */
export const NullableEpochMillis = Schema.NullOr(EpochMillis)

/**
 * A struct field whose database column has another name, typically the
 * snake_case spelling of a camelCase field: `tokenHash: column("token_hash", Schema.String)`.
 * The decoded side has the field name, the encoded side (what SQL sees) the column name.
 */
export const column = <Column extends string, A, I>(name: Column, schema: Schema.Schema<A, I>) =>
  Schema.propertySignature(schema).pipe(Schema.fromKey(name))

/**
 * Escapes `%`, `_` and the escape character itself so user text is matched
 * literally by `LIKE ... ESCAPE '\'` (same meaning on SQLite and PostgreSQL).
 */
export const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`)

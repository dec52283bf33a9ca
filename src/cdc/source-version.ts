/**
 * Row versions. A version is a fixed-width string: versions of one kind
 * compare as strings (the state store's Lua compares them so; Lua numbers are
 * doubles and would round 64-bit positions).
 */

/**
 * The version of a change that has no source position: `K` and the Kafka
 * offset in 20 digits. Valid only while a key stays in one partition of one
 * topic.
 */
export function kafkaOffsetVersion(offset: string | bigint): string {
  return `K${offset.toString().padStart(20, '0')}`;
}

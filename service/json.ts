// D-Bus values as the JSON that scripts read (rovy status --json, Describe()): property names in
// camelCase, 64-bit integers as numbers (exact up to 2^53: byte counts and microsecond times fit).
export function toJson(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key.charAt(0).toLowerCase() + key.slice(1), toJson(v)]));
  }
  return value;
}

// notify/v2 SEARCH filters as ACS's ConfigDB applies them (acs-contract.md §10): an entry matches when every filter
// key is present in it with an equal value; a filter value of null means the key must be absent.
import { canonicalJson } from "./configdb-model.js";

export type SearchFilter = Readonly<Record<string, unknown>>;

/** The filter of a SEARCH request, or undefined when it is not an object (the request is then refused). */
export function parseSearchFilter(raw: unknown): SearchFilter | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  return raw as SearchFilter;
}

export function matchesFilter(value: unknown, filter: SearchFilter): boolean {
  const keys = Object.entries(filter);
  if (keys.length === 0) return true;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const entry = value as Record<string, unknown>;
  return keys.every(([key, wanted]) => wanted === null
    ? !Object.hasOwn(entry, key)
    : Object.hasOwn(entry, key) && canonicalJson(entry[key]) === canonicalJson(wanted));
}

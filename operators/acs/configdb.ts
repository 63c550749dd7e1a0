import { AcsProtocolError } from "./errors.js";
import type { ServiceClient } from "./service-client.js";

/**
 * ConfigDB v2 REST client (acs-contract.md §2). Entries are JSON values keyed by application UUID and object UUID;
 * every entry has an ETag (`"<uuid>"`) that changes when the entry changes. Unknown objects give 404 and path parts
 * that are not UUIDs give 410; both surface as AcsHttpError except where a method documents otherwise.
 */

export interface ConfigEntry<T = unknown> {
  value: T;
  /** The entry's ETag in header form (`"<uuid>"`), for `ifMatch`; null if the server sent none. */
  etag: string | null;
}

export interface WriteOptions {
  /**
   * Only write if the entry still has this ETag (as returned by getEntry), or with "*" if it exists at all; else
   * AcsPreconditionFailedError.
   */
  ifMatch?: string;
  /** "*": only write if the entry does not exist yet; else AcsPreconditionFailedError. */
  ifNoneMatch?: "*";
}

/** The ConfigDB's registration record for an object (`POST /v2/object` answer). */
export interface ObjectRegistration {
  uuid: string;
  class: string;
  [key: string]: unknown;
}

export const MERGE_PATCH_CONTENT_TYPE = "application/merge-patch+json";

export class ConfigDbClient {
  constructor(private readonly http: ServiceClient) {}

  /** The entry, or null if there is none (404). */
  async getEntry<T = unknown>(app: string, obj: string): Promise<ConfigEntry<T> | null> {
    const res = await this.http.request({ method: "GET", path: entryPath(app, obj), accept: [200, 404] });
    if (res.status === 404) return null;
    return { value: res.json<T>(), etag: normaliseEtag(res.headers.get("etag")) };
  }

  /** Replaces the entry. Resolves "created" (201) or "updated" (204; also when nothing changed). */
  async putEntry(app: string, obj: string, value: unknown, options: WriteOptions = {}): Promise<"created" | "updated"> {
    const res = await this.http.request({
      method: "PUT", path: entryPath(app, obj), json: value, headers: preconditions(options), accept: [201, 204],
    });
    return res.status === 201 ? "created" : "updated";
  }

  /** Applies a JSON merge patch (RFC 7396); the ConfigDB creates the entry when it is absent. */
  async patchEntry(app: string, obj: string, mergePatch: unknown, options: WriteOptions = {}): Promise<void> {
    await this.http.request({
      method: "PATCH", path: entryPath(app, obj), json: mergePatch, contentType: MERGE_PATCH_CONTENT_TYPE,
      headers: preconditions(options), accept: [204],
    });
  }

  /** Deletes the entry: true if it existed (204), false if it did not (404). */
  async deleteEntry(app: string, obj: string, options: WriteOptions = {}): Promise<boolean> {
    const res = await this.http.request({
      method: "DELETE", path: entryPath(app, obj), headers: preconditions(options), accept: [204, 404],
    });
    return res.status === 204;
  }

  /** UUIDs of the objects that have an entry for this application. */
  async listObjects(app: string): Promise<string[]> {
    return this.getUuidList(`v2/app/${seg(app)}/object`);
  }

  /**
   * Registers an object of a class: with a UUID it is created if absent (created=false when it already existed with
   * that class); without one the ConfigDB coins a new UUID.
   */
  async createObject(klass: string, uuid?: string): Promise<{ uuid: string; created: boolean; registration: ObjectRegistration }> {
    const res = await this.http.request({
      method: "POST", path: "v2/object", json: uuid === undefined ? { class: klass } : { class: klass, uuid }, accept: [200, 201],
    });
    const registration = res.json<ObjectRegistration>();
    if (typeof registration?.uuid !== "string") {
      throw new AcsProtocolError(this.http.service, "POST", "/v2/object", "answer has no object uuid");
    }
    return { uuid: registration.uuid, created: res.status === 201, registration };
  }

  /** Deletes an object and its entries: true if it existed, false if not. Refused (409) while it has members. */
  async deleteObject(obj: string): Promise<boolean> {
    const res = await this.http.request({ method: "DELETE", path: `v2/object/${seg(obj)}`, accept: [204, 404] });
    return res.status === 204;
  }

  async addClassMember(klass: string, obj: string): Promise<void> {
    await this.http.request({ method: "PUT", path: memberPath(klass, obj), accept: [204] });
  }

  async removeClassMember(klass: string, obj: string): Promise<void> {
    await this.http.request({ method: "DELETE", path: memberPath(klass, obj), accept: [204] });
  }

  /** Whether obj is a direct member of the class. */
  async isClassMember(klass: string, obj: string): Promise<boolean> {
    const res = await this.http.request({ method: "GET", path: memberPath(klass, obj), accept: [204, 404] });
    return res.status === 204;
  }

  /** Direct members of a class. */
  async listClassMembers(klass: string): Promise<string[]> {
    return this.getUuidList(`v2/class/${seg(klass)}/direct/member`);
  }

  private async getUuidList(path: string): Promise<string[]> {
    const value = (await this.http.request({ method: "GET", path, accept: [200] })).json();
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
      throw new AcsProtocolError(this.http.service, "GET", `/${path}`, "expected an array of UUIDs");
    }
    return value;
  }
}

/** ETags in one form (`"<opaque>"`): HTTP sends them quoted, notify/v2 headers may carry the bare value. */
export function normaliseEtag(etag: string | null | undefined): string | null {
  if (etag === null || etag === undefined || etag === "") return null;
  if (etag.startsWith('"') || etag.startsWith("W/")) return etag;
  return `"${etag}"`;
}

export function entryPath(app: string, obj: string): string {
  return `v2/app/${seg(app)}/object/${seg(obj)}`;
}

function memberPath(klass: string, obj: string): string {
  return `v2/class/${seg(klass)}/direct/member/${seg(obj)}`;
}

function preconditions(options: WriteOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const match = options.ifMatch === "*" ? "*" : normaliseEtag(options.ifMatch);
  if (match) headers["if-match"] = match;
  if (options.ifNoneMatch) headers["if-none-match"] = options.ifNoneMatch;
  return headers;
}

function seg(part: string): string {
  return encodeURIComponent(part);
}

import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { AcsDumpService, AcsTarget } from "./acs-uuids.js";
import { isUuid } from "./http-util.js";

/**
 * ACS dumps (acs-contract.md §7): YAML files of one or more documents, each `service:` + `version: 2` with
 * - ConfigDB: `objects: {<class>: {<uuid>: {name?, memberOf?: [<group>], subclassOf?: [<class>]}}}` and
 *   `configs: {<app>: {<obj>: value}}` (an object is a member of the class it is listed under, and of its memberOf);
 * - Auth: `grants: {<principal>: {<permission>: null | {<target>: <plural>}}}` (null: any target).
 * This loader reads exactly that layout (UUIDs written out, no `!u` tags) and refuses anything else by name, so a
 * typo in a grant table fails the test run instead of silently granting less.
 */

export interface DumpObject {
  uuid: string;
  klass: string;
  name?: string;
  /** Further groups the object is a direct member of (besides the class it is listed under). */
  memberOf: string[];
  subclassOf: string[];
}

export interface DumpGrant {
  principal: string;
  permission: string;
  target: string;
  plural: boolean;
}

export interface Dump {
  objects: DumpObject[];
  configs: Array<{ app: string; object: string; value: unknown }>;
  grants: DumpGrant[];
}

export function readDumpFile(file: string): Dump {
  return parseDump(readFileSync(file, "utf8"), file);
}

export function parseDump(text: string, source = "dump"): Dump {
  const dump: Dump = { objects: [], configs: [], grants: [] };
  for (const [index, doc] of parseAllDocuments(text).entries()) {
    if ("errors" in doc && doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]!.message}`);
    const body: unknown = doc.toJS();
    if (body === null || body === undefined) continue;
    const where = `${source} document ${index + 1}`;
    const d = record(body, where);
    if (d.version !== 2) throw new Error(`${where}: only version 2 dumps are understood`);
    if (d.service === AcsDumpService.ConfigDB) readConfigDb(d, where, dump);
    else if (d.service === AcsDumpService.Auth) readAuth(d, where, dump);
    else throw new Error(`${where}: unknown service ${String(d.service)}`);
  }
  return dump;
}

function readConfigDb(d: Record<string, unknown>, where: string, dump: Dump): void {
  for (const key of Object.keys(d)) if (!["service", "version", "objects", "configs"].includes(key)) throw new Error(`${where}: unknown key "${key}"`);
  for (const [klass, objects] of Object.entries(record(d.objects ?? {}, `${where} objects`))) {
    uuid(klass, `${where} class`);
    for (const [obj, spec] of Object.entries(record(objects ?? {}, `${where} objects of ${klass}`))) {
      uuid(obj, `${where} object`);
      const s = record(spec ?? {}, `${where} object ${obj}`);
      for (const key of Object.keys(s)) if (!["name", "memberOf", "subclassOf"].includes(key)) throw new Error(`${where}: ${obj} has unknown key "${key}"`);
      const uuids = (field: "memberOf" | "subclassOf") =>
        s[field] === undefined ? [] : list(s[field], `${where} ${obj}.${field}`).map((c) => uuid(c, `${where} ${obj}.${field}`));
      if (s.name !== undefined && typeof s.name !== "string") throw new Error(`${where}: ${obj}.name must be a string`);
      dump.objects.push({ uuid: obj, klass, name: s.name as string | undefined, memberOf: uuids("memberOf"), subclassOf: uuids("subclassOf") });
    }
  }
  for (const [app, entries] of Object.entries(record(d.configs ?? {}, `${where} configs`))) {
    uuid(app, `${where} app`);
    for (const [obj, value] of Object.entries(record(entries ?? {}, `${where} configs of ${app}`))) {
      dump.configs.push({ app, object: uuid(obj, `${where} config object`), value });
    }
  }
}

function readAuth(d: Record<string, unknown>, where: string, dump: Dump): void {
  for (const key of Object.keys(d)) if (!["service", "version", "grants"].includes(key)) throw new Error(`${where}: unknown key "${key}"`);
  for (const [principal, perms] of Object.entries(record(d.grants ?? {}, `${where} grants`))) {
    uuid(principal, `${where} principal`);
    for (const [permission, targets] of Object.entries(record(perms ?? {}, `${where} grants of ${principal}`))) {
      uuid(permission, `${where} permission`);
      if (targets === null) {
        dump.grants.push({ principal, permission, target: AcsTarget.Null, plural: false });
        continue;
      }
      for (const [target, plural] of Object.entries(record(targets, `${where} targets of ${permission}`))) {
        if (typeof plural !== "boolean") throw new Error(`${where}: ${principal} ${permission} ${target} must map to true or false`);
        dump.grants.push({ principal, permission, target: uuid(target, `${where} target`), plural });
      }
    }
  }
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${where}: expected a mapping`);
  return value as Record<string, unknown>;
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list`);
  return value;
}

function uuid(value: unknown, where: string): string {
  if (!isUuid(value)) throw new Error(`${where}: "${String(value)}" is not a lower-case UUID`);
  return value;
}

/**
 * ACS stand-in: a test double of the documented ACS protocol (acs-contract.md §2–§3), not an ACS implementation.
 *
 * It implements exactly the behaviour graft's ACS clients rely on, on loopback ports, one HTTP server per service so
 * a token is valid only at the service that issued it:
 * - Directory: `GET /v1/service/<service uuid>` → `[{service, device, url}]` (empty for unknown services).
 * - Every service: `POST /token` with Basic credentials → `{token, expiry}`; Basic or Bearer on every request, 401
 *   with `WWW-Authenticate: Basic` otherwise. Passwords live in the stand-in's own store (playing the KDC's role);
 *   with the `kdc` option, passwords of principals in that realm the store does not hold are checked against that
 *   real KDC with kinit (kdc-passwords.ts), so credentials created with kadmin work as at an ACS installation; when
 *   that KDC also gives kadmin.local, the stand-in holds a keytab for `HTTP/<host>` and accepts `Negotiate` too
 *   (negotiate.ts). Either way a Kerberos principal acts as the ACS principal its Kerberos identity (Auth) maps it to.
 * - ConfigDB v2 REST (configdb-http.ts) over an in-memory model (configdb-model.ts) and notify/v2 (notify-server.ts).
 * - Auth v2: grants, Kerberos identities, whoami (auth-http.ts, auth-model.ts).
 * - Git smart HTTP at `/uuid/<repo uuid>` over `git http-backend` (git-server.ts).
 * - Command Escalation v1 (cmdesc.ts): records the commands asked for, after ACS's permission check (cmdesc-acl.ts).
 *
 * - ACS's permission model (acl.ts) on every ConfigDB, Auth and Git request, with grants loaded as ACS dumps
 *   (dumps.ts): by default the Cluster Manager role's (dumps/cluster-manager.yaml); more with the `dumps` option.
 * - Every request is counted per service and caller (`requests`), so tests can bound what a client sends.
 *
 * Deliberate simplifications, so nobody mistakes them for ACS behaviour: notify/v2 does not check ACLs. The
 * Registration application accepts only a `deleted` merge patch. The admin user is the root principal and passes
 * every check.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { App, Class, Service } from "../../operators/api/constants.js";
import { AuthModel } from "./auth-model.js";
import { authHandler } from "./auth-http.js";
import { ConfigDbModel, Meta, type Validator } from "./configdb-model.js";
import { configDbHandler, type ConfigDbWrite } from "./configdb-http.js";
import { gitHandler, repoPath } from "./git-server.js";
import { fileURLToPath } from "node:url";
import { AccessControl } from "./acl.js";
import { readDumpFile, type Dump } from "./dumps.js";
import { AcsPerm } from "./acs-uuids.js";
import { isUuid, listenLoopback, pathSegments, readJson, sendJson, sendStatus, type Handler, type Listening } from "./http-util.js";
import { authenticateRequest, Realm, ServiceTokens } from "./identity.js";
import { kdcPasswordCheck, type StandinKdc } from "./kdc-passwords.js";
import { negotiateAcceptor } from "./negotiate.js";
import { NotifyServer } from "./notify-server.js";
import { CommandLog, commandEscalationHandler } from "./cmdesc.js";
import { commandCheck } from "./cmdesc-acl.js";

export type StandinService = "directory" | "configdb" | "auth" | "git" | "cmdesc";

export interface AcsStandinOptions {
  /** Kerberos realm appended to usernames without one. Default `GRAFT.TEST`, or the KDC's realm. */
  realm?: string;
  /**
   * A real KDC: Basic passwords of its principals (other than the stand-in's own users) are checked with kinit; with
   * its kadmin.local (pass the harness's Kdc itself) Negotiate logins are accepted as well.
   */
  kdc?: StandinKdc;
  /** Lifetime of issued tokens. Default one hour. */
  tokenLifetimeMs?: number;
  /** Schema checks per application UUID: a PUT/PATCH whose result fails gets 422. */
  schemas?: Record<string, Validator>;
  /** Further Directory entries (service UUID → URL), e.g. an MQTT broker. */
  directory?: Record<string, string>;
  /** More ACS dump files to load after the built-in ones (e.g. an edge role's grants, an extra grant an admin loads). */
  dumps?: string[];
  /** The address every service listens on and the Directory names; default 127.0.0.1 (Pods of the real node need its bridge address). */
  host?: string;
}

/** The dumps every stand-in loads: the grants ACS's installer gives its services. */
export const BUILTIN_DUMPS = [fileURLToPath(new URL("./dumps/cluster-manager.yaml", import.meta.url))];

export interface StandinRequest {
  service: StandinService;
  method: string;
  path: string;
  /** The authenticated caller (`user@REALM`), or null for a request refused with 401. */
  upn: string | null;
  status: number;
}

export interface AcsStandin {
  urls: Record<StandinService, string>;
  realm: string;
  /** The root principal: a Kerberos identity mapped to `principal` that passes every permission check. */
  adminUser: { username: string; password: string; upn: string; principal: string };
  /**
   * Adds a user (or changes its password) in the stand-in's password store; returns the full principal name. A user
   * added here is never checked against the KDC.
   */
  addUser(username: string, password: string): { upn: string };
  /** The ConfigDB state: inspect it, or change it directly (changes are notified like API writes). */
  configdb: ConfigDbModel;
  /** What was asked of the Command Escalation service (cmdesc.ts). */
  commands: CommandLog;
  /** The Auth state: grants and Kerberos identities. */
  auth: AuthModel;
  /** Where the bare repository for a repo UUID lives (it exists after first use). */
  gitRepoPath(uuid: string): string;
  /** The service principal Negotiate tickets must be for (`HTTP/<host>@REALM`), when the stand-in accepts them. */
  negotiatePrincipal?: string;
  /** Why Negotiate tokens were refused so far (GSSAPI's words), for diagnostics. */
  negotiateRefusals: string[];
  /** How many tokens a service has issued. */
  logins(service: StandinService): number;
  /** Every request answered so far, in order (token requests included). */
  requests: StandinRequest[];
  /** Every accepted ConfigDB entry PUT and PATCH, in order, with the body as sent. */
  configdbWrites: ConfigDbWrite[];
  /** Takes a service down (its port stops listening, open connections are cut) until restore(). */
  outage(service: StandinService): Promise<void>;
  /** Brings a service taken down by outage() back on the same URL. */
  restore(service: StandinService): Promise<void>;
  /** The permission model: checks, refusals, group-expanded grants. */
  acl: AccessControl;
  /** Loads an ACS dump file (objects, configs, grants), as an administrator loading it into ACS would. */
  loadDump(file: string): void;
  /** Forgets issued tokens (of one service or all), so the next request with one gets 401. */
  revokeTokens(service?: StandinService): void;
  /** Cuts every notify/v2 connection abruptly; with refuseNew, new ones get 503 until allowNotifyConnections(). */
  dropNotifyConnections(options?: { refuseNew?: boolean }): number;
  allowNotifyConnections(): void;
  /** notify/v2 connections that have authenticated and are still open. */
  notifyConnections(): number;
  stop(): Promise<void>;
}

const DEFAULT_TOKEN_LIFETIME_MS = 60 * 60_000;

export async function startAcsStandin(options: AcsStandinOptions = {}): Promise<AcsStandin> {
  if (options.kdc && options.realm && options.realm !== options.kdc.realm) {
    throw new Error(`the stand-in realm "${options.realm}" differs from the KDC realm "${options.kdc.realm}"`);
  }
  const realm = new Realm(options.kdc?.realm ?? options.realm ?? "GRAFT.TEST", options.kdc && kdcPasswordCheck(options.kdc));
  const tokenLifetime = options.tokenLifetimeMs ?? DEFAULT_TOKEN_LIFETIME_MS;
  const tokens = {
    directory: new ServiceTokens("directory", realm, () => tokenLifetime),
    configdb: new ServiceTokens("configdb", realm, () => tokenLifetime),
    auth: new ServiceTokens("auth", realm, () => tokenLifetime),
    git: new ServiceTokens("git", realm, () => tokenLifetime),
    cmdesc: new ServiceTokens("cmdesc", realm, () => tokenLifetime),
  } satisfies Record<StandinService, ServiceTokens>;

  const admin = { username: "admin", password: randomBytes(12).toString("hex"), principal: randomUUID() };
  const adminUpn = realm.setPassword(admin.username, admin.password);
  const configdb = new ConfigDbModel(new Map(Object.entries(options.schemas ?? {})));
  seedObjects(configdb);
  const auth = new AuthModel(adminUpn);
  auth.setKerberos(admin.principal, adminUpn);
  const acl = new AccessControl(auth, configdb);
  const loadDump = (file: string) => applyDump(readDumpFile(file), configdb, auth);
  for (const file of [...BUILTIN_DUMPS, ...(options.dumps ?? [])]) loadDump(file);
  const requests: StandinRequest[] = [];
  const counted = (service: StandinService, handler: Handler, tokens: ServiceTokens): Handler => async (req, res) => {
    res.on("finish", () => {
      requests.push({ service, method: req.method ?? "", path: (req.url ?? "").split("?")[0]!, upn: tokens.lastCaller(req), status: res.statusCode });
    });
    await handler(req, res);
  };

  const kadminLocal = options.kdc?.kadminLocal?.bind(options.kdc);
  if (options.kdc && kadminLocal) {
    realm.negotiate = await negotiateAcceptor({ realm: options.kdc.realm, env: options.kdc.env, kadminLocal }, options.host ?? "127.0.0.1");
  }
  const closeNegotiate = () => realm.negotiate?.close() ?? Promise.resolve();
  const dataDir = await mkdtemp(path.join(tmpdir(), "graft-acs-standin-"));
  const servers: Listening[] = [];
  const notify = new NotifyServer(configdb, tokens.configdb, acl);
  const commands = new CommandLog();
  const configdbWrites: ConfigDbWrite[] = [];
  try {
    const configdbServer = await listenLoopback(counted("configdb", configDbHandler(configdb, tokens.configdb, acl, configdbWrites), tokens.configdb), options.host);
    servers.push(configdbServer);
    notify.attach(configdbServer.server);
    const authServer = await listenLoopback(counted("auth", authHandler(auth, tokens.auth, acl), tokens.auth), options.host);
    servers.push(authServer);
    const gitServer = await listenLoopback(counted("git", gitHandler({ dataDir, tokens: tokens.git, configDb: configdb, acl }), tokens.git), options.host);
    servers.push(gitServer);
    const cmdescServer = await listenLoopback(commandEscalationHandler(tokens.cmdesc, commands, commandCheck(acl, configdb)), options.host);
    servers.push(cmdescServer);

    const providers: Record<string, string> = {
      [Service.ConfigDB]: configdbServer.url,
      [Service.Auth]: authServer.url,
      [Service.Git]: gitServer.url,
      [Service.CommandEscalation]: cmdescServer.url,
      ...options.directory,
    };
    // Advertisements (ACS spells it "advertisment"): a caller holding AdvertiseService on a service may register
    // its URL for it; the Directory then lists it beside the stand-in's own services.
    const adverts = new Map<string, string>();
    const directoryServer = await listenLoopback(counted("directory", async (req, res) => {
      const caller = await authenticateRequest(tokens.directory, req, res);
      if (!caller) return;
      const [version, kind, uuid, sub, ...rest] = pathSegments(req);
      if (version !== "v1" || kind !== "service" || !uuid || rest.length > 0) return sendStatus(res, 404);
      if (sub === "advertisment" && req.method === "PUT") {
        if (!isUuid(uuid)) return sendStatus(res, 410);
        if (!acl.permitted(caller, AcsPerm.AdvertiseService, uuid)) return sendStatus(res, 403);
        const { url } = ((await readJson(req)) ?? {}) as { url?: unknown };
        if (typeof url !== "string") return sendStatus(res, 400);
        adverts.set(uuid, url);
        return sendStatus(res, 204);
      }
      if (req.method !== "GET" || sub !== undefined) return sendStatus(res, 404);
      const url = isUuid(uuid) ? (adverts.get(uuid) ?? providers[uuid]) : undefined;
      sendJson(res, 200, url ? [{ service: uuid, device: null, url }] : []);
    }, tokens.directory), options.host);
    servers.push(directoryServer);
    providers[Service.Directory] = directoryServer.url;
    const byService: Record<StandinService, Listening> = {
      directory: directoryServer, configdb: configdbServer, auth: authServer, git: gitServer, cmdesc: cmdescServer,
    };

    return {
      urls: { directory: directoryServer.url, configdb: configdbServer.url, auth: authServer.url, git: gitServer.url, cmdesc: cmdescServer.url },
      realm: realm.name,
      adminUser: { ...admin, upn: adminUpn },
      addUser: (username, password) => ({ upn: realm.setPassword(username, password) }),
      configdb,
      commands,
      auth,
      gitRepoPath: (uuid) => repoPath(dataDir, uuid),
      negotiatePrincipal: realm.negotiate?.principal,
      negotiateRefusals: realm.negotiate?.refusals ?? [],
      logins: (service) => tokens[service].logins,
      requests,
      configdbWrites,
      outage: async (service) => {
        if (service === "configdb") notify.dropConnections();
        await byService[service].pause();
      },
      restore: (service) => byService[service].resume(),
      acl,
      loadDump,
      revokeTokens: (service) => {
        for (const [name, issuer] of Object.entries(tokens)) if (!service || service === name) issuer.revokeAll();
      },
      dropNotifyConnections: (opts) => notify.dropConnections(opts),
      allowNotifyConnections: () => notify.allowConnections(),
      notifyConnections: () => notify.authenticatedConnections(),
      stop: async () => {
        await notify.close();
        await Promise.all(servers.map((s) => s.close()));
        await rm(dataDir, { recursive: true, force: true });
        await closeNegotiate();
      },
    };
  } catch (err) {
    await notify.close();
    await Promise.all(servers.map((s) => s.close()));
    await rm(dataDir, { recursive: true, force: true });
    await closeNegotiate();
    throw err;
  }
}

/** What an ACS installation has registered before graft runs: its applications, classes and services. */
function seedObjects(configdb: ConfigDbModel): void {
  for (const app of Object.values(App)) configdb.register(app, Meta.AppClass);
  for (const klass of Object.values(Class)) configdb.register(klass, Meta.ClassClass);
  for (const service of Object.values(Service)) configdb.register(service, Meta.ServiceClass);
}

/** Loads a dump as ACS does: objects (with their General information name, groups and superclasses), entries, grants. */
function applyDump(dump: Dump, configdb: ConfigDbModel, auth: AuthModel): void {
  for (const o of dump.objects) {
    if (!configdb.hasObject(o.klass)) configdb.register(o.klass, Meta.ClassClass);
    configdb.register(o.uuid, o.klass);
    if (o.name !== undefined) configdb.put(App.GeneralInfo, o.uuid, { name: o.name });
    for (const sup of o.subclassOf) {
      if (!configdb.hasObject(sup)) configdb.register(sup, Meta.ClassClass);
      configdb.addSubclass(sup, o.uuid);
    }
  }
  // Memberships once every object of the dump exists (a group may be listed after its members).
  for (const o of dump.objects) {
    for (const group of o.memberOf) {
      if (!configdb.hasObject(group)) configdb.register(group, Meta.ClassClass);
      configdb.addMember(group, o.uuid);
    }
  }
  for (const c of dump.configs) {
    const status = configdb.put(c.app, c.object, c.value);
    if (status >= 300) throw new Error(`dump entry ${c.app}/${c.object} was refused with ${status}`);
  }
  for (const g of dump.grants) {
    const { status } = auth.addGrant(g);
    if (status >= 300) throw new Error(`dump grant ${JSON.stringify(g)} was refused with ${status}`);
  }
}

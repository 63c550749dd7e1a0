import { Service } from "../api/constants.js";
import type { Logger } from "../runtime/logger.js";
import { silentLogger } from "../runtime/logger.js";
import { AcsProtocolError, AcsUnavailableError } from "./errors.js";
import { ServiceClient, type AcsCredentials, type BaseUrlSource, type ServiceClientOptions } from "./service-client.js";

/**
 * Finds ACS services (acs-contract.md §3): a preset URL wins; otherwise `GET <Directory>/v1/service/<service uuid>`
 * lists the providers and the first one with a URL is used. Hands out one ServiceClient per service, so each keeps its
 * own token (a token is valid only at the service that issued it).
 */

export type AcsServiceName = "directory" | "configdb" | "auth" | "git" | "mqtt" | "clusters" | "cmdesc";

export const SERVICE_UUIDS: Readonly<Record<AcsServiceName, string>> = {
  directory: Service.Directory,
  configdb: Service.ConfigDB,
  auth: Service.Auth,
  git: Service.Git,
  mqtt: Service.MQTT,
  clusters: Service.Clusters,
  cmdesc: Service.CommandEscalation,
};

/** The environment variables ACS uses to preset service URLs. */
export const URL_ENV_VARS: Readonly<Partial<Record<AcsServiceName, string>>> = {
  directory: "DIRECTORY_URL",
  configdb: "CONFIGDB_URL",
  auth: "AUTHN_URL",
  mqtt: "MQTT_URL",
};

export interface AcsConnectionOptions {
  credentials: AcsCredentials;
  /** Preset URLs; any service without one is looked up in the Directory (whose URL must then be preset). */
  urls?: Partial<Record<AcsServiceName, string>>;
  logger?: Logger;
  /** Passed to every ServiceClient. */
  client?: Pick<ServiceClientOptions, "refreshAheadMs" | "timeoutMs" | "now">;
}

export class AcsConnection {
  private readonly clients = new Map<AcsServiceName, ServiceClient>();
  private readonly located = new Map<AcsServiceName, Promise<string>>();
  private readonly log: Logger;

  constructor(private readonly options: AcsConnectionOptions) {
    this.log = options.logger ?? silentLogger;
  }

  /** The HTTP client for a service (created once, then shared). */
  service(name: AcsServiceName): ServiceClient {
    let client = this.clients.get(name);
    if (!client) {
      client = new ServiceClient({
        ...this.options.client,
        service: name,
        baseUrl: this.urlSource(name),
        credentials: this.options.credentials,
        logger: this.log,
      });
      this.clients.set(name, client);
    }
    return client;
  }

  /** The base URL of a service: its preset, or the Directory's answer (cached until the service stops answering). */
  resolveUrl(name: AcsServiceName): Promise<string> {
    const preset = this.options.urls?.[name];
    if (preset) return Promise.resolve(preset);
    let pending = this.located.get(name);
    if (!pending) {
      pending = this.discover(name);
      this.located.set(name, pending);
      pending.catch(() => this.located.delete(name));
    }
    return pending;
  }

  private urlSource(name: AcsServiceName): BaseUrlSource {
    return { get: () => this.resolveUrl(name), forget: () => this.located.delete(name) };
  }

  private async discover(name: AcsServiceName): Promise<string> {
    if (name === "directory" || !this.options.urls?.directory) {
      const variable = URL_ENV_VARS[name];
      const hint = variable ? `set ${variable} or DIRECTORY_URL` : "set the Directory URL (DIRECTORY_URL)";
      throw new AcsUnavailableError(name, `no URL configured: ${hint}`);
    }
    const uuid = SERVICE_UUIDS[name];
    const path = `v1/service/${uuid}`;
    const res = await this.service("directory").request({ method: "GET", path });
    const providers = res.json<unknown>();
    if (!Array.isArray(providers)) throw new AcsProtocolError("directory", "GET", `/${path}`, "expected an array of providers");
    const url = providers
      .map((p: unknown) => (p && typeof p === "object" ? (p as { url?: unknown }).url : undefined))
      .find((u): u is string => typeof u === "string" && u !== "");
    if (!url) throw new AcsUnavailableError(name, `the Directory lists no provider with a URL for service "${uuid}"`);
    this.log.info({ service: name, url }, "service located through the Directory");
    return url;
  }
}

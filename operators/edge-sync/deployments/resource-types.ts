// Maps a template's apiVersion and kind to the REST resource that serves it, by asking the API server's discovery
// (templates name kinds, the API speaks plurals). Answers are cached; a kind the server does not serve is an error
// naming it, so a missing CRD (Flux not installed) is reported instead of guessed around.
import { ApiError, isNotFound, type KubeClient } from "../../runtime/rest.js";
import type { ResourceType } from "../../runtime/kube.js";
import type { ResourceKind } from "./manifests.js";

interface DiscoveryList {
  resources?: Array<{ name: string; kind: string; namespaced: boolean }>;
}

export class ResourceTypes {
  private readonly cache = new Map<string, ResourceType>();

  constructor(private readonly client: KubeClient) {}

  async lookup(kind: ResourceKind): Promise<ResourceType> {
    const key = `${kind.apiVersion}/${kind.kind}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const slash = kind.apiVersion.indexOf("/");
    const [group, version] = slash < 0 ? ["", kind.apiVersion] : [kind.apiVersion.slice(0, slash), kind.apiVersion.slice(slash + 1)];
    let list: DiscoveryList;
    try {
      list = await this.client.request<DiscoveryList>(group ? `/apis/${group}/${version}` : `/api/${version}`);
    } catch (err) {
      if (isNotFound(err)) throw notServed(kind);
      throw err;
    }
    const found = list.resources?.find((r) => r.kind === kind.kind && !r.name.includes("/"));
    if (!found) throw notServed(kind);
    const type: ResourceType = { group, version, plural: found.name, kind: kind.kind, namespaced: found.namespaced };
    this.cache.set(key, type);
    return type;
  }

  /** Forget what was learnt (a CRD may have been installed or upgraded since). */
  reset(): void {
    this.cache.clear();
  }
}

function notServed(kind: ResourceKind): ApiError {
  return new ApiError(404, "NotServed", `the API server does not serve ${kind.kind} in ${kind.apiVersion}: is Flux installed?`);
}

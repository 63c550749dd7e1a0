// Which ACS permission a request needs (acs-contract.md §7), so a 403 can say what to grant instead of just
// "forbidden". ACS answers a refusal with a bare 403; the request alone tells graft which check failed.
import { App, Class } from "../api/constants.js";

const APP_NAMES: Record<string, string> = {
  [App.EdgeClusterConfiguration]: "Edge cluster configuration",
  [App.EdgeClusterSetupStatus]: "Edge cluster setup status",
  [App.EdgeClusterStatus]: "Edge cluster status",
  [App.SparkplugAddress]: "Sparkplug address information",
  [App.GitRepoConfig]: "Git repository configuration",
  [App.HelmChartTemplate]: "Helm chart template",
  [App.FluxTemplate]: "Flux template",
  [App.BootstrapScript]: "Bootstrap script",
  [App.GeneralInfo]: "General information",
  [App.Registration]: "Registration",
  [App.ServiceConfig]: "Service config",
  "88436128-09a3-4c9c-b7f4-b0e495137265": "K8s resource template",
};

const CLASS_NAMES: Record<string, string> = {
  [Class.EdgeCluster]: "class Edge cluster",
  [Class.EdgeAccount]: "class EdgeService",
};

const app = (uuid: string) => (APP_NAMES[uuid] ? `'${APP_NAMES[uuid]}'` : `application ${uuid}`);

/** The permission ACS checks for this request, in words, or undefined when graft does not know. */
export function requiredPermission(service: string, method: string, path: string, body?: { class?: string; uuid?: string }): string | undefined {
  const p = path.replace(/^\/+/, "").split("?")[0]!;
  const parts = p.split("/");
  if (service === "configdb") {
    if (parts[0] === "v2" && parts[1] === "app" && parts[3] === "object") {
      return `${method === "GET" ? "ReadConfig" : "WriteConfig"} on ${app(parts[2]!)}`;
    }
    if (p === "v2/object" && method === "POST") {
      const klass = body?.class ? (CLASS_NAMES[body.class] ?? `class ${body.class}`) : "the class";
      return body?.uuid ? `CreateSpecificObject on ${klass} (the UUID is chosen by the caller)` : `CreateObject on ${klass}`;
    }
    if (parts[1] === "object" && method === "DELETE") return "DeleteObject on the object";
    if (parts[1] === "class" && parts[3] === "member") {
      return method === "GET" ? "ReadMembers on the class" : "WriteMembers on the group and WriteMemberships on the member";
    }
  }
  if (service === "auth") {
    if (parts[1] === "principal" && parts[3] === "kerberos") return method === "GET" ? "ReadKerberos" : "ManageKerberos";
    if (parts[1] === "identity") return "ReadKerberos";
    if (parts[1] === "grant") return method === "POST" && parts.length === 2 ? "ManageACL on the grant's permission" : "ReadACL or ManageACL on the grant's permission";
  }
  if (service === "git") return "Git Pull or Push on the repository";
  return undefined;
}

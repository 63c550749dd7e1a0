// The krb5.conf an edge cluster uses to reach the central KDC (acs-contract §5). The Helm chart and the bootstrap
// script render theirs from here, so there is one definition.
import { assertRealm } from "./principal.js";

export interface EdgeKrb5ConfOptions {
  realm: string;
  /** DNS domain of the central services; the KDC is `kdc.<domain>` and kadmind `kadmin.<domain>`. */
  domain: string;
  /** Overrides for the KDC and kadmind addresses (`host[:port]`), e.g. for tests. */
  kdc?: string;
  adminServer?: string;
}

const HOST_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?$/;
const DOMAIN_RE = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

function assertHost(what: string, value: string): void {
  if (!HOST_RE.test(value)) throw new Error(`invalid ${what} "${value}": expected host or host:port`);
}

export function renderEdgeKrb5Conf(opts: EdgeKrb5ConfOptions): string {
  assertRealm(opts.realm);
  const domain = opts.domain.replace(/\.$/, "");
  if (!DOMAIN_RE.test(domain)) throw new Error(`invalid DNS domain "${opts.domain}"`);
  const kdc = opts.kdc ?? `kdc.${domain}`;
  const adminServer = opts.adminServer ?? `kadmin.${domain}`;
  assertHost("KDC address", kdc);
  assertHost("admin server address", adminServer);
  return [
    "[libdefaults]",
    `    default_realm = ${opts.realm}`,
    "    dns_canonicalize_hostname = false",
    "    udp_preference_limit = 1",
    "",
    "[domain_realm]",
    `    .${domain} = ${opts.realm}`,
    `    ${domain} = ${opts.realm}`,
    "",
    "[realms]",
    `    ${opts.realm} = {`,
    `        kdc = ${kdc}`,
    `        admin_server = ${adminServer}`,
    "    }",
    "",
  ].join("\n");
}

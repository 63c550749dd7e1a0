// "No credential lives in a Pod's environment", checked on the Pods as they run: every container and init container,
// every variable however it gets there (a value, a ConfigMap or Secret key, a whole ConfigMap or Secret pulled in
// with envFrom, resolved to the variables the kubelet sets). A variable is a credential when it comes from a Secret,
// when its name says it is one, or when its value holds a value of a Secret in the Pod's namespace.

export interface EnvSourcePod {
  metadata: { name: string };
  spec: { containers: EnvContainer[]; initContainers?: EnvContainer[] };
}

interface EnvContainer {
  name: string;
  env?: {
    name: string; value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
  }[];
  envFrom?: { prefix?: string; configMapRef?: { name: string }; secretRef?: { name: string } }[];
}

/** The ConfigMaps and Secrets of the Pod's namespace, by name: data as strings (Secrets decoded). */
export interface EnvSources {
  configMaps: ReadonlyMap<string, Readonly<Record<string, string>>>;
  secrets: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/** Names of credentials (not of files holding them: SERVICE_PASSWORD_FILE is a path). */
const CREDENTIAL_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|KEYTAB|PRIVATE_KEY|API_KEY|CREDENTIALS?)$/i;
/** Shorter Secret values ("true", a port) are too common to mean the Secret leaked. */
const MIN_SECRET_LENGTH = 8;

/** What puts a credential in one of these Pods' environments, one line each; empty when nothing does. */
export function podEnvCredentialProblems(pods: readonly EnvSourcePod[], sources: EnvSources): string[] {
  const secretValues = [...sources.secrets].flatMap(([secret, data]) =>
    Object.entries(data).filter(([, v]) => v.length >= MIN_SECRET_LENGTH).map(([key, value]) => ({ secret, key, value })));
  const problems: string[] = [];
  for (const pod of pods) {
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      const where = `Pod "${pod.metadata.name}" container "${c.name}"`;
      const check = (name: string, value: string | undefined, via: string) => {
        if (CREDENTIAL_NAME.test(name)) problems.push(`${where}: ${name}${via} is named as a credential`);
        const leaked = value === undefined ? undefined : secretValues.find((s) => value.includes(s.value));
        if (leaked) problems.push(`${where}: ${name}${via} holds key "${leaked.key}" of Secret "${leaked.secret}"`);
      };
      for (const from of c.envFrom ?? []) {
        if (from.secretRef) {
          problems.push(`${where}: envFrom Secret "${from.secretRef.name}"`);
          continue;
        }
        if (!from.configMapRef) continue;
        const data = sources.configMaps.get(from.configMapRef.name);
        if (!data) {
          problems.push(`${where}: envFrom ConfigMap "${from.configMapRef.name}" not found, so not checked`);
          continue;
        }
        for (const [key, value] of Object.entries(data)) check(`${from.prefix ?? ""}${key}`, value, ` (envFrom ConfigMap "${from.configMapRef.name}")`);
      }
      for (const e of c.env ?? []) {
        const secretRef = e.valueFrom?.secretKeyRef;
        if (secretRef) {
          problems.push(`${where}: ${e.name} from key "${secretRef.key}" of Secret "${secretRef.name}"`);
          continue;
        }
        const mapRef = e.valueFrom?.configMapKeyRef;
        if (mapRef) check(e.name, sources.configMaps.get(mapRef.name)?.[mapRef.key], ` (key "${mapRef.key}" of ConfigMap "${mapRef.name}")`);
        else check(e.name, e.value, "");
      }
    }
  }
  return problems;
}

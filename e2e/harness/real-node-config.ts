// The configuration files of the real test node's components (real-node.md): containerd with the CRI settings this
// machine needs, the CNI bridge without masquerading, kubelet, kube-proxy, and CoreDNS without the forward plugin.
import { bridgeAddress, bridgeName, cgroupRoot, dnsServiceAddress, podSubnet } from "./real-node-host.js";

export const pauseImage = "registry.k8s.io/pause:3.10";
export const corednsImage = "registry.k8s.io/coredns/coredns:v1.14.7";
/** A loopback port nothing listens on: every registry resolves there, so an image that is not imported fails at once. */
const nowhere = "http://127.0.0.1:9";

export interface ContainerdPaths {
  dir: string;
  socket: string;
  runc: string;
}

export function containerdConfig(p: ContainerdPaths): string {
  return `version = 3
root = "${p.dir}/root"
state = "${p.dir}/state"
# /opt/containerd, tracing and NRI are not needed and would write outside the root directories.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.nri.v1.nri", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "${p.socket}"
[ttrpc]
  address = "${p.socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.cri.v1.runtime"]
  enable_selinux = false
  disable_apparmor = true
  # Root here lacks CAP_SYS_RESOURCE: no container may get an oom_score_adj below containerd's own.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "${p.runc}"
        Root = "${p.dir}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "${p.dir}/cni"
    max_conf_num = 1

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "${pauseImage}"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "${p.dir}/certs.d"

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

/** certs.d/_default/hosts.toml: every registry is the dead loopback port, so nothing is ever pulled. */
export function registryHosts(): string {
  return `server = "${nowhere}"\n[host."${nowhere}"]\n  capabilities = ["pull", "resolve"]\n`;
}

/** The Pod network: Debian's bridge + host-local + portmap plugins; no masquerading (nothing may leave). */
export function cniConfig(ipamDir: string): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: "graft-node",
    plugins: [
      {
        type: "bridge",
        bridge: bridgeName,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          dataDir: ipamDir,
          ranges: [[{ subnet: podSubnet, gateway: bridgeAddress, rangeStart: "10.200.0.10" }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  }, null, 2);
}

export interface KubeletPaths {
  containerdSocket: string;
  clientCaFile: string;
  podLogsDir: string;
  port: number;
  healthzPort: number;
}

export function kubeletConfig(p: KubeletPaths): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The machine has a cgroup v1 / hybrid hierarchy: without this kubelet refuses to start.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /${cgroupRoot}
containerRuntimeEndpoint: unix://${p.containerdSocket}
# The API server reaches kubelet on the bridge; the health endpoint stays on loopback.
address: ${bridgeAddress}
port: ${p.port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${p.healthzPort}
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: ${p.clientCaFile} }
authorization:
  mode: Webhook
clusterDNS: [${dnsServiceAddress}]
clusterDomain: cluster.local
# No name server of the host reaches a Pod: names resolve in the cluster or not at all.
resolvConf: ""
# An image removed cannot be pulled again (nothing is ever pulled).
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
failSwapOn: false
podLogsDir: ${p.podLogsDir}
serializeImagePulls: false
shutdownGracePeriod: 0s
shutdownGracePeriodCriticalPods: 0s
rotateCertificates: false
serverTLSBootstrap: false
protectKernelDefaults: false
`;
}

export interface KubeProxyPaths {
  kubeconfig: string;
  healthzPort: number;
  metricsPort: number;
  nodeName: string;
}

export function kubeProxyConfig(p: KubeProxyPaths): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${p.kubeconfig}
hostnameOverride: ${p.nodeName}
mode: iptables
clusterCIDR: ${podSubnet}
healthzBindAddress: 127.0.0.1:${p.healthzPort}
metricsBindAddress: 127.0.0.1:${p.metricsPort}
nodePortAddresses: ["${bridgeAddress}/32"]
# Leave the host's conntrack settings and route_localnet alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  localhostNodePorts: false
`;
}

/** CoreDNS serves cluster.local only: there is no forward plugin, so other names fail inside the machine. */
export function corednsManifests(): string {
  const labels = "k8s-app: kube-dns";
  return `apiVersion: v1
kind: ServiceAccount
metadata: { name: coredns, namespace: kube-system }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "system:coredns" }
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "system:coredns" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns" }
subjects: [{ kind: ServiceAccount, name: coredns, namespace: kube-system }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: coredns, namespace: kube-system }
data:
  Corefile: |
    .:1053 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 30
        }
        cache 30
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: coredns, namespace: kube-system, labels: { ${labels} } }
spec:
  replicas: 1
  selector: { matchLabels: { ${labels} } }
  template:
    metadata: { labels: { ${labels} } }
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 }
      containers:
        - name: coredns
          image: ${corednsImage}
          imagePullPolicy: IfNotPresent
          args: ["-conf", "/etc/coredns/Corefile"]
          ports:
            - { name: dns, containerPort: 1053, protocol: UDP }
            - { name: dns-tcp, containerPort: 1053, protocol: TCP }
          readinessProbe:
            httpGet: { path: /ready, port: 8181 }
            periodSeconds: 2
          livenessProbe:
            httpGet: { path: /health, port: 8080 }
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: { drop: [ALL] }
          volumeMounts: [{ name: config, mountPath: /etc/coredns, readOnly: true }]
      volumes: [{ name: config, configMap: { name: coredns } }]
---
apiVersion: v1
kind: Service
metadata: { name: kube-dns, namespace: kube-system, labels: { ${labels} } }
spec:
  clusterIP: ${dnsServiceAddress}
  selector: { ${labels} }
  ports:
    - { name: dns, port: 53, targetPort: 1053, protocol: UDP }
    - { name: dns-tcp, port: 53, targetPort: 1053, protocol: TCP }
`;
}

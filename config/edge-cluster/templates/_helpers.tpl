{{/* Shared definitions of the edge-cluster chart. */}}

{{/* "true" in Kerberos (ACS) mode, "" in embedded mode. */}}
{{- define "edge-cluster.kerberos" -}}
{{- if has .Values.mode (list "kerberos" "acs") }}true{{ end -}}
{{- end }}

{{- define "edge-cluster.clusterName" -}}
{{- required "cluster.name is required: the cluster-manager sets it from the EdgeCluster" .Values.cluster.name -}}
{{- end }}

{{- define "edge-cluster.clusterUuid" -}}
{{- required "cluster.uuid is required: the cluster-manager sets it from the EdgeCluster" .Values.cluster.uuid | lower -}}
{{- end }}

{{/* The namespace every namespaced object goes to. cluster.namespace, when set, must be the release namespace. */}}
{{- define "edge-cluster.namespace" -}}
{{- $ns := .Values.cluster.namespace | default .Release.Namespace -}}
{{- if ne $ns .Release.Namespace -}}
{{- fail (printf "cluster.namespace %q differs from the release namespace %q: install the release into %q" $ns .Release.Namespace $ns) -}}
{{- end -}}
{{- $ns -}}
{{- end }}

{{- define "edge-cluster.sparkplugGroup" -}}
{{- .Values.cluster.sparkplugGroup | default (printf "%s-%s" .Values.cluster.organisationPrefix (include "edge-cluster.clusterName" .)) -}}
{{- end }}

{{- define "edge-cluster.centralUrl" -}}
{{- required "central.url is required: the URL of the cluster-manager (embedded) or ACS Directory (kerberos)" .Values.central.url | trimSuffix "/" -}}
{{- end }}

{{- define "edge-cluster.gitUrl" -}}
{{- .Values.central.gitUrl | default (printf "%s/uuid/%s" (include "edge-cluster.centralUrl" .) (include "edge-cluster.clusterUuid" .)) -}}
{{- end }}

{{- define "edge-cluster.statusUrl" -}}
{{- .Values.central.statusUrl | default (include "edge-cluster.centralUrl" .) -}}
{{- end }}

{{- define "edge-cluster.directoryUrl" -}}
{{- .Values.central.directoryUrl | default .Values.cluster.directory | default (include "edge-cluster.centralUrl" .) -}}
{{- end }}

{{- define "edge-cluster.realm" -}}
{{- required "kerberos.realm is required in kerberos mode" (.Values.kerberos.realm | default .Values.krb5.realm) -}}
{{- end }}

{{/* The Kerberos principal of one of the cluster's operator accounts: <role>/<cluster name>@<REALM>. */}}
{{- define "edge-cluster.principal" -}}
{{- printf "%s/%s@%s" .role (include "edge-cluster.clusterName" .root) (include "edge-cluster.realm" .root) -}}
{{- end }}

{{/* The release's base name: fullnameOverride, else the release name when it contains the chart name, else both. */}}
{{- define "edge-cluster.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := .Values.nameOverride | default .Chart.Name -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/*
The name of a component's objects (Deployment, ServiceAccount, Roles): <fullname>-<component>. Names the protocol
fixes (the KerberosKeys, the Secrets krbkeys and the bootstrap write, cluster-config, krb5-conf) do not use it.
*/}}
{{- define "edge-cluster.componentName" -}}
{{- printf "%s-%s" (include "edge-cluster.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "edge-cluster.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end }}

{{- define "edge-cluster.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: graft
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "edge-cluster.selectorLabels" . }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "edge-cluster.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* Every graft operator serves /healthz and /readyz on its health port (HEALTH_ADDR :8081). */}}
{{- define "edge-cluster.probes" -}}
livenessProbe:
  httpGet: { path: /healthz, port: health }
  initialDelaySeconds: 10
  periodSeconds: 20
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: { path: /readyz, port: health }
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
{{- end }}

{{/*
The Pod template's metadata of a component: its labels plus podLabels, the annotations from podAnnotations and
<component>.podAnnotations, and any extra (checksums). Call with (dict "root" $ "component" "edge-sync" "values"
.Values.edgeSync "extra" (dict ...)).
*/}}
{{- define "edge-cluster.podMetadata" -}}
labels:
  {{- include "edge-cluster.labels" . | nindent 2 }}
  {{- with .root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- $annotations := merge (dict) (.extra | default dict) (.values.podAnnotations | default dict) .root.Values.podAnnotations }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Pod spec fields shared by every operator: its ServiceAccount, the security context, pull secrets and scheduling
(the component's own nodeSelector/tolerations/affinity win over the chart-wide ones). Same dict as podMetadata.
*/}}
{{- define "edge-cluster.podCommon" -}}
{{- $root := .root -}}
serviceAccountName: {{ include "edge-cluster.componentName" . }}
automountServiceAccountToken: true
enableServiceLinks: false
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector | default $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations | default $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity | default $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* A component's ServiceAccount. Same dict as podMetadata. */}}
{{- define "edge-cluster.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "edge-cluster.componentName" . }}
  namespace: {{ include "edge-cluster.namespace" .root }}
  labels:
    {{- include "edge-cluster.labels" . | nindent 4 }}
  {{- with .root.Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
Kerberos mode: edge-sync's ACS login (edgeSync.acsLogin) as the KerberosKey that makes it and the file edge-sync reads:
keyType, secret, key, env (the variable naming the file), dir (where the Secret is mounted).
*/}}
{{- define "edge-cluster.edgeSyncLogin" -}}
{{- if eq (.Values.edgeSync.acsLogin | default "keytab") "password" -}}
{ keyType: Password, secret: edge-sync-credentials, key: password, env: SERVICE_PASSWORD_FILE, dir: /etc/graft/credentials }
{{- else -}}
{ keyType: Random, secret: edge-sync-keytabs, key: client, env: SERVICE_KEYTAB_FILE, dir: /etc/graft/keytab }
{{- end -}}
{{- end }}

{{/*
A Secret key mounted as a file (never an environment variable): the volume. The kubelet updates the file when the
Secret changes (no subPath, which would freeze it), and the operator reads it again when the server refuses it.
*/}}
{{- define "edge-cluster.secretVolume" -}}
- name: {{ .volume }}
  secret:
    secretName: {{ .secret | quote }}
    defaultMode: 0440
    items:
      - { key: {{ .key | quote }}, path: {{ .key | quote }} }
{{- end }}

{{/* Environment every operator gets: identity of the cluster, log level, health address, its own namespace. */}}
{{- define "edge-cluster.commonEnv" -}}
- name: CLUSTER_UUID
  value: {{ include "edge-cluster.clusterUuid" . | quote }}
- name: CLUSTER_NAME
  value: {{ include "edge-cluster.clusterName" . | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: HEALTH_ADDR
  value: ":8081"
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end }}

{{/* The Sealed Secrets controller's name (its Service and Deployment), fixed by the vendored chart's fullnameOverride. */}}
{{- define "edge-cluster.sealedSecretsName" -}}
{{- required "sealedSecrets.fullnameOverride is required: it names the controller graft's edge-sync asks for the certificate" .Values.sealedSecrets.fullnameOverride -}}
{{- end }}

{{/* The service-proxy name of the controller's HTTP port, as edge-sync's request path names it (scheme:name:port). */}}
{{- define "edge-cluster.sealedSecretsProxyName" -}}
{{- printf "http:%s:http" (include "edge-cluster.sealedSecretsName" .) -}}
{{- end }}

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
{{- .Values.central.directoryUrl | default (include "edge-cluster.centralUrl" .) -}}
{{- end }}

{{- define "edge-cluster.realm" -}}
{{- required "kerberos.realm is required in kerberos mode" .Values.kerberos.realm -}}
{{- end }}

{{/* The Kerberos principal of one of the cluster's operator accounts: <role>/<cluster name>@<REALM>. */}}
{{- define "edge-cluster.principal" -}}
{{- printf "%s/%s@%s" .role (include "edge-cluster.clusterName" .root) (include "edge-cluster.realm" .root) -}}
{{- end }}

{{/* Names of cluster-scoped objects and of objects outside the release namespace carry the release name. */}}
{{- define "edge-cluster.globalName" -}}
{{- printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" -}}
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
{{- end }}

{{- define "edge-cluster.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* Pod-level hardening shared by every operator: the image's non-root user, RuntimeDefault seccomp. */}}
{{- define "edge-cluster.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "edge-cluster.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Every graft operator serves /healthz and /readyz on its health port (HEALTH_ADDR :8081). */}}
{{- define "edge-cluster.probes" -}}
livenessProbe:
  httpGet: { path: /healthz, port: health }
  initialDelaySeconds: 5
  periodSeconds: 20
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: { path: /readyz, port: health }
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
{{- end }}

{{/* Pod spec fields shared by every operator (after serviceAccountName). */}}
{{- define "edge-cluster.podCommon" -}}
automountServiceAccountToken: true
enableServiceLinks: false
securityContext:
  {{- include "edge-cluster.podSecurityContext" . | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
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

{{/* Names, labels and the facts several templates share. */}}

{{- define "arswarm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "arswarm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "arswarm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "arswarm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: arswarm
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "coordinator") */}}
{{- define "arswarm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "arswarm.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "arswarm.coordinator.name" -}}{{ include "arswarm.fullname" . }}-coordinator{{- end -}}
{{- define "arswarm.nats.name" -}}{{ include "arswarm.fullname" . }}-nats{{- end -}}
{{- define "arswarm.worker.name" -}}{{ include "arswarm.fullname" .ctx }}-worker-{{ .pool }}{{- end -}}

{{- define "arswarm.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{- define "arswarm.prefix" -}}{{ .Values.config.swarm.prefix | default "arswarm" }}{{- end -}}

{{/* The NATS client URL both sides use (credentials travel separately). */}}
{{- define "arswarm.nats.url" -}}
{{- if .Values.nats.external.url -}}
{{- .Values.nats.external.url -}}
{{- else -}}
{{- printf "nats://%s.%s.svc:4222" (include "arswarm.nats.name" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{- define "arswarm.nats.inChart" -}}{{ if not .Values.nats.external.url }}true{{ end }}{{- end -}}

{{- define "arswarm.workerToken.secret" -}}
{{- .Values.workerToken.existingSecret | default (printf "%s-worker-token" (include "arswarm.fullname" .)) -}}
{{- end -}}

{{/* Whether worker trials run as a separate uid (workers.trialUser not "none"). */}}
{{- define "arswarm.workers.isolated" -}}{{ if ne (toString .Values.workers.trialUser) "none" }}true{{ end }}{{- end -}}

{{/*
Workers that isolate trials run as root with only the capabilities to drop to
the trial uid and manage its files; trial code itself has none. Otherwise the
common non-root context.
*/}}
{{- define "arswarm.workers.podSecurityContext" -}}
{{- if include "arswarm.workers.isolated" . -}}
runAsNonRoot: false
runAsUser: 0
runAsGroup: 0
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- else -}}
{{- include "arswarm.podSecurityContext" . -}}
{{- end -}}
{{- end -}}

{{/* (dict "ctx" $ "readOnly" bool) */}}
{{- define "arswarm.workers.containerSecurityContext" -}}
{{- if include "arswarm.workers.isolated" .ctx -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ .readOnly }}
capabilities:
  drop: [ALL]
  add: [CHOWN, DAC_OVERRIDE, FOWNER, KILL, SETGID, SETUID]
{{- else -}}
{{- include "arswarm.containerSecurityContext" .readOnly -}}
{{- end -}}
{{- end -}}

{{- define "arswarm.nats.authSecret" -}}
{{- .Values.nats.auth.existingSecret | default (printf "%s-nats-auth" (include "arswarm.fullname" .)) -}}
{{- end -}}

{{/* host:port of the coordinator's CodeService, as workers dial it. */}}
{{- define "arswarm.codeAddr" -}}
{{- printf "%s.%s.svc:%d" (include "arswarm.coordinator.name" .) .Release.Namespace (int .Values.config.swarm.grpc_port) -}}
{{- end -}}

{{/* Worker pools with the defaults filled in, as a YAML list. */}}
{{- define "arswarm.pools" -}}
{{- $out := list -}}
{{- range .Values.workers.pools -}}
{{- $pool := mergeOverwrite (deepCopy $.Values.workers.defaults) (deepCopy .) -}}
{{- /* A volume source is replaced whole: merging two would give a volume of two types. */ -}}
{{- $_ := set $pool "cacheVolume" (.cacheVolume | default $.Values.workers.defaults.cacheVolume | default (dict "emptyDir" (dict))) -}}
{{- $out = append $out $pool -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The longest stage wall-clock limit in seconds (timeout_seconds, else budget + 120, as in the code). */}}
{{- define "arswarm.maxStageTimeout" -}}
{{- $max := 0 -}}
{{- range .Values.config.stages -}}
{{- $t := int (default (add (int .budget_seconds) 120) .timeout_seconds) -}}
{{- if gt $t $max }}{{ $max = $t }}{{ end -}}
{{- end -}}
{{- $max -}}
{{- end -}}

{{- define "arswarm.workers.grace" -}}
{{- if kindIs "invalid" .Values.workers.terminationGracePeriodSeconds -}}
{{- add (include "arswarm.maxStageTimeout" . | int) 60 -}}
{{- else -}}
{{- .Values.workers.terminationGracePeriodSeconds | int -}}
{{- end -}}
{{- end -}}

{{- define "arswarm.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "arswarm.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ . }}
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The NATS client port: 4222, or the port in nats.external.url (the first server). */}}
{{- define "arswarm.nats.port" -}}
{{- $first := first (splitList "," (include "arswarm.nats.url" .)) -}}
{{- $hostport := regexReplaceAll "^[a-z]+://([^@/]*@)?" $first "" -}}
{{- $m := regexFind ":[0-9]+" $hostport -}}
{{- if $m }}{{ trimPrefix ":" $m }}{{ else }}4222{{ end -}}
{{- end -}}

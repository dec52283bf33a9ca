{{/* The chart's name: nameOverride, else the chart's. */}}
{{- define "cdc-views.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-wide name, at most 63 characters: fullnameOverride, else <release>-<name> (just <release> when it contains the name). */}}
{{- define "cdc-views.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "cdc-views.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one topology's resources: (dict "root" $ "t" $topology) */}}
{{- define "cdc-views.topologyName" -}}
{{- printf "%s-%s" (include "cdc-views.fullname" .root) .t.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cdc-views.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cdc-views.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cdc-views.labels" -}}
{{ include "cdc-views.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels of one topology's resources: (dict "root" $ "t" $topology) */}}
{{- define "cdc-views.topologyLabels" -}}
{{ include "cdc-views.labels" .root }}
app.kubernetes.io/component: {{ .t.name }}
{{- end -}}

{{- define "cdc-views.topologySelectorLabels" -}}
{{ include "cdc-views.selectorLabels" .root }}
app.kubernetes.io/component: {{ .t.name }}
{{- end -}}

{{- define "cdc-views.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "cdc-views.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cdc-views.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* terminationGracePeriodSeconds: the shutdown timeout rounded up to seconds, plus the margin. */}}
{{- define "cdc-views.gracePeriodSeconds" -}}
{{- add (div (add (int .Values.shutdownTimeoutMs) 999) 1000) (int .Values.terminationGraceMarginSeconds) -}}
{{- end -}}

{{/* Autoscaling settings of a topology: the defaults with its overrides. (dict "root" $ "t" $topology) */}}
{{- define "cdc-views.autoscaling" -}}
{{- mergeOverwrite (deepCopy .root.Values.autoscaling) (default (dict) .t.autoscaling) | toJson -}}
{{- end -}}

{{/* The applicationId a topology runs as: its applicationId, else <name>-v1 (version v1 of the topology, so replay and promote know it). (a topology) */}}
{{- define "cdc-views.applicationId" -}}
{{- default (printf "%s-v1" .name) .applicationId -}}
{{- end -}}

{{/* Environment (ConfigMap data) of a topology's pods. (dict "root" $ "t" $topology) */}}
{{- define "cdc-views.env" -}}
{{- $env := mergeOverwrite (deepCopy (default (dict) .root.Values.config)) (default (dict) .t.config) -}}
{{- $_ := set $env "CDCV_APPLICATION_ID" (include "cdc-views.applicationId" .t) -}}
{{- $_ := set $env "CDCV_TOPICS" .t.topics -}}
{{- $_ := set $env "CDCV_TOPOLOGY" .t.topology -}}
{{- $_ := set $env "CDCV_HTTP_PORT" (toString .root.Values.httpPort) -}}
{{- $_ := set $env "CDCV_HTTP_HOST" (toString .root.Values.httpHost) -}}
{{- $_ := set $env "CDCV_STORES_ENABLED" (toString .root.Values.stores.enabled) -}}
{{- $_ := set $env "CDCV_SHUTDOWN_TIMEOUT_MS" (toString .root.Values.shutdownTimeoutMs) -}}
{{- range $k, $v := $env }}
{{ $k }}: {{ toString $v | quote }}
{{- end -}}
{{- end -}}

{{/* Fails the install on values that JSON Schema cannot express. (dict "root" $ "t" $topology) */}}
{{- define "cdc-views.validateTopology" -}}
{{- $t := .t -}}
{{- $as := include "cdc-views.autoscaling" . | fromJson -}}
{{- if $as.enabled -}}
{{- if gt (int $as.maxReplicas) (int $t.partitions) -}}
{{- fail (printf "topologies[%s]: autoscaling.maxReplicas %v exceeds partitions %v; a consumer group uses at most one consumer per partition, so lower maxReplicas or add partitions" $t.name $as.maxReplicas $t.partitions) -}}
{{- end -}}
{{- if gt (int $as.minReplicas) (int $as.maxReplicas) -}}
{{- fail (printf "topologies[%s]: autoscaling.minReplicas %v exceeds maxReplicas %v" $t.name $as.minReplicas $as.maxReplicas) -}}
{{- end -}}
{{- else if gt (int (default 1 $t.replicas)) (int $t.partitions) -}}
{{- fail (printf "topologies[%s]: replicas %v exceeds partitions %v; a consumer group uses at most one consumer per partition, so lower replicas or add partitions" $t.name $t.replicas $t.partitions) -}}
{{- end -}}
{{- end -}}

{{/* The entry of .Values.topologies named .name, as JSON; fails when missing. (dict "root" $ "name" "x" "job" "replay") */}}
{{- define "cdc-views.findTopology" -}}
{{- $found := dict -}}
{{- range .root.Values.topologies -}}
{{- if eq .name $.name -}}{{- $found = . -}}{{- end -}}
{{- end -}}
{{- if not $found.name -}}
{{- fail (printf "jobs.%s.topology %q is not the name of an entry of topologies" .job .name) -}}
{{- end -}}
{{- $found | toJson -}}
{{- end -}}


{{/* Where credentials.existingSecret is mounted. */}}
{{- define "cdc-views.credentialsPath" -}}/etc/cdc-views/secrets{{- end -}}

{{/*
Fails the install on credential values that JSON Schema cannot express:
files without a Secret, /stores enabled without a token. (root)
*/}}
{{- define "cdc-views.validateCredentials" -}}
{{- $c := .Values.credentials -}}
{{- if and $c.files (not $c.existingSecret) -}}
{{- fail "credentials.files maps settings to keys of credentials.existingSecret: set credentials.existingSecret to the name of your Secret" -}}
{{- end -}}
{{- if .Values.stores.enabled -}}
{{- $names := concat (keys (default (dict) $c.files)) (keys .Values.secretEnv) (keys .Values.config) -}}
{{- range .Values.extraEnv }}{{ $names = append $names .name }}{{ end -}}
{{- if not (or (has "CDCV_STORES_TOKEN_FILE" $names) (has "CDCV_STORES_TOKEN" $names)) -}}
{{- fail "stores.enabled: /stores serves any row of any table and needs a bearer token: map CDCV_STORES_TOKEN_FILE to a key of your Secret in credentials.files (or give CDCV_STORES_TOKEN in secretEnv)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

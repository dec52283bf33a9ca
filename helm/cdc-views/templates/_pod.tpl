{{/*
Pod and container pieces shared by the Deployments and the operator Jobs:
same image, configuration, security context, scheduling and volumes.
*/}}

{{/* env entries: the credentials' *_FILE settings, secretEnv (from existing Secrets), then extraEnv. */}}
{{- define "cdc-views.env.list" -}}
{{- range $name, $key := .Values.credentials.files }}
- name: {{ $name }}
  value: {{ printf "%s/%s" (include "cdc-views.credentialsPath" $) $key | quote }}
{{- end }}
{{- range $name, $ref := .Values.secretEnv }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secretName }}
      key: {{ $ref.key }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end -}}
{{- end -}}

{{/* Pod annotations that roll the pods when their configuration or topology files change. (dict "root" $ "t" $topology) */}}
{{- define "cdc-views.checksums" -}}
checksum/config: {{ include "cdc-views.env" . | sha256sum }}
{{- if include "cdc-views.mountsTopologySources" . }}
checksum/topologies: {{ include "cdc-views.topologySourcesChecksum" .root }}
{{- end -}}
{{- end -}}

{{/*
The container fields after name, args, ports and probes. (dict "root" $ "t" $topology),
optionally "env" (a list of EnvVars of this container only, e.g. a Job's
DATABASE_URL): after extraEnv, so a Job's own setting wins over a shared one;
optionally "configMap" (the ConfigMap of the environment, default the
topology's: the lake's pods share <fullname>-lake).
*/}}
{{- define "cdc-views.containerBase" -}}
{{- $v := .root.Values -}}
{{- $env := include "cdc-views.env.list" .root | trim -}}
{{- with .env }}{{ $env = printf "%s\n%s" $env (toYaml .) | trim }}{{ end -}}
image: {{ include "cdc-views.image" .root | quote }}
imagePullPolicy: {{ $v.image.pullPolicy }}
envFrom:
  - configMapRef:
      name: {{ default (include "cdc-views.topologyName" .) .configMap }}
  {{- with $v.extraEnvFrom }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $env }}
env:
  {{- . | nindent 2 }}
{{- end }}
resources:
  {{- toYaml (default $v.resources .t.resources) | nindent 2 }}
securityContext:
  {{- toYaml $v.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  {{- if include "cdc-views.mountsTopologySources" . }}
  - name: topology-files
    mountPath: {{ include "cdc-views.topologyMountPath" . }}
    readOnly: true
  {{- end }}
  {{- if $v.credentials.existingSecret }}
  - name: credentials
    mountPath: {{ include "cdc-views.credentialsPath" .root }}
    readOnly: true
  {{- end }}
  {{- with $v.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/*
The pod fields besides containers (and a Deployment's spread constraints). (dict "root" $ "t" $topology),
optionally "grace" (terminationGracePeriodSeconds, with "graceWhy" saying why, instead of the shutdown timeout's)
*/}}
{{- define "cdc-views.podBase" -}}
{{- $v := .root.Values -}}
serviceAccountName: {{ include "cdc-views.serviceAccountName" .root }}
automountServiceAccountToken: false
# no <SERVICE>_PORT… variables: a Service named like cdcv would inject CDCV_* ones,
# which cdc-views refuses at start-up as unknown settings
enableServiceLinks: false
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if .grace }}
# {{ .graceWhy }}
terminationGracePeriodSeconds: {{ .grace }}
{{- else }}
# longer than CDCV_SHUTDOWN_TIMEOUT_MS ({{ $v.shutdownTimeoutMs }} ms): a graceful stop finishes its flush
terminationGracePeriodSeconds: {{ include "cdc-views.gracePeriodSeconds" .root }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {}
  {{- if include "cdc-views.mountsTopologySources" . }}
  - name: topology-files
    configMap:
      name: {{ include "cdc-views.topologySourcesConfigMap" .root }}
  {{- end }}
  {{- with $v.credentials.existingSecret }}
  - name: credentials
    secret:
      secretName: {{ . }}
      # 0440 (written in decimal: YAML 1.1 and 1.2 read a leading 0 differently):
      # read-only for the owner and the pod's fsGroup
      defaultMode: 288
  {{- end }}
  {{- with $v.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/*
topologySpreadConstraints of a topology's Deployment: each constraint of the
values, with the topology's pod labels as its labelSelector unless it has one.
(dict "root" $ "t" $topology)
*/}}
{{- define "cdc-views.topologySpreadConstraints" -}}
{{- $selector := dict "matchLabels" (include "cdc-views.topologySelectorLabels" . | fromYaml) -}}
{{- $out := list -}}
{{- range .root.Values.topologySpreadConstraints -}}
{{- $c := deepCopy . -}}
{{- if not (hasKey $c "labelSelector") -}}{{- $_ := set $c "labelSelector" $selector -}}{{- end -}}
{{- $out = append $out $c -}}
{{- end -}}
{{- with $out }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/* Pod spec of an operator Job: (dict "root" $ "t" $topology "job" "replay" "args" (list ...)), optionally "env" (list of EnvVars) */}}
{{- define "cdc-views.jobPodSpec" -}}
restartPolicy: Never
{{ include "cdc-views.podBase" . }}
containers:
  - name: {{ .job }}
    args:
      {{- toYaml .args | nindent 6 }}
    {{- include "cdc-views.containerBase" . | nindent 4 }}
{{- end -}}

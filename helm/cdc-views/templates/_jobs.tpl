{{/*
Operator Jobs (job-replay.yaml, job-promote.yaml, job-rewind.yaml, job-backfill.yaml).

Name: <release>-<topology>-<job>[-<version>]-<hash>, at most 63 characters,
where <hash> is 8 hex digits of the SHA-256 of the Job's pod spec, the
checksums of the topology's configuration (its ConfigMap data) and topology
files, and jobs.<job>.runId. A Job's
spec is immutable, so any change of what it runs (version, datetime, image,
configuration, topology files) gives a new name instead of an apply that
Kubernetes refuses; applying the same settings again names the same Job (a
no-op, not a second run). To run identical settings again, set a new runId.
.Release.Revision is left out on purpose: `helm template` (how these Jobs
are applied) always renders revision 1, and in a release a Job named by
revision would run again on every upgrade.
*/}}

{{/* (dict "root" $ "t" $topology "job" "replay" "version" "v2" "spec" <rendered pod spec> "runId" "...") */}}
{{- define "cdc-views.jobName" -}}
{{- $hash := printf "%s\n%s\n%s" .spec (include "cdc-views.checksums" .) (default "" .runId) | sha256sum | trunc 8 -}}
{{- $prefix := printf "%s-%s" (include "cdc-views.topologyName" .) .job -}}
{{- if .version }}{{ $prefix = printf "%s-%s" $prefix .version }}{{ end -}}
{{- printf "%s-%s" ($prefix | trunc 54 | trimSuffix "-" | trimSuffix ".") $hash -}}
{{- end -}}

{{/*
A whole operator Job: (dict "root" $ "t" $topology "job" "replay" "args" (list ...)
"version" "v2" (or "") "runId" "..." "backoffLimit" 3), optionally "env" (list of
EnvVars of the Job's container only, e.g. the backfill's DATABASE_URL)
*/}}
{{- define "cdc-views.job" -}}
{{- $spec := include "cdc-views.jobPodSpec" . -}}
{{- $name := include "cdc-views.jobName" (merge (dict "spec" $spec) .) -}}
# kubectl -n {{ .root.Release.Namespace }} wait --for=condition=complete job/{{ $name }}
# kubectl -n {{ .root.Release.Namespace }} logs -f job/{{ $name }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "cdc-views.topologyLabels" . | nindent 4 }}
    app.kubernetes.io/part-of: cdc-views-operations
    cdc-views/operation: {{ .job }}
spec:
  backoffLimit: {{ .backoffLimit }}
  ttlSecondsAfterFinished: {{ .root.Values.jobs.ttlSecondsAfterFinished }}
  template:
    metadata:
      labels:
        {{- include "cdc-views.selectorLabels" .root | nindent 8 }}
        app.kubernetes.io/part-of: cdc-views-operations
        cdc-views/operation: {{ .job }}
      annotations:
        {{- include "cdc-views.checksums" . | nindent 8 }}
    spec:
      {{- $spec | nindent 6 }}
{{- end -}}

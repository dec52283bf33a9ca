{{/*
The lake sink (docs/lake.md, values `lake`): lake.yaml renders its
ConfigMap <fullname>-lake, one `lake slices` Deployment per table, and the
worker: a `lake orchestrate` Deployment (with a Service for /metrics) or one
`lake work` CronJob per table.
*/}}

{{/* A table as a DNS label part: public.order_items → public-order-items. (a schema.table) */}}
{{- define "cdc-views.lakeTableDns" -}}
{{- regexReplaceAll "[^a-z0-9]+" (lower .) "-" | trimAll "-" -}}
{{- end -}}

{{/*
The pseudo-topology a lake resource is named and labelled by:
<fullname>-<name>, component <name>. (dict "name" "lake-orchestrator" "resources" ...)
*/}}
{{- define "cdc-views.lakeUnit" -}}
{{- dict "name" (.name | trunc 52 | trimSuffix "-") "topology" "" "resources" .resources | toJson -}}
{{- end -}}

{{/* Environment (ConfigMap data) of the lake's pods: config, lake.config, then the settings of `lake`. (root) */}}
{{- define "cdc-views.lakeEnv" -}}
{{- $l := .Values.lake -}}
{{- $env := mergeOverwrite (deepCopy (default (dict) .Values.config)) (default (dict) $l.config) -}}
{{- $_ := set $env "CDCV_LAKE_URL" $l.url -}}
{{- with $l.s3.endpoint }}{{ $_ := set $env "CDCV_LAKE_S3_ENDPOINT" . }}{{ end -}}
{{- with $l.s3.region }}{{ $_ := set $env "CDCV_LAKE_S3_REGION" . }}{{ end -}}
{{- with $l.s3.accessKeyId }}{{ $_ := set $env "CDCV_LAKE_S3_ACCESS_KEY_ID" . }}{{ end -}}
{{- $_ := set $env "CDCV_LAKE_SLICE_INTERVAL_MS" (toString (int64 $l.sliceIntervalMs)) -}}
{{- /* the orchestrator's /metrics, /healthz and /readyz */ -}}
{{- $_ := set $env "CDCV_HTTP_PORT" (toString .Values.httpPort) -}}
{{- $_ := set $env "CDCV_HTTP_HOST" (toString .Values.httpHost) -}}
{{- range $k, $v := $env }}
{{ $k }}: {{ toString $v | quote }}
{{- end -}}
{{- end -}}

{{/*
Fails on lake values JSON Schema cannot express: no url, no table, a table
twice (or two tables with one resource name), an access key id without its
secret key (or the reverse: cdc-views refuses both at start-up). (root)
*/}}
{{- define "cdc-views.validateLake" -}}
{{- $l := .Values.lake -}}
{{- if not $l.url -}}
{{- fail "lake.url is required with lake.enabled: s3://bucket/prefix (or file:///path)" -}}
{{- end -}}
{{- if not $l.tables -}}
{{- fail "lake.tables is required with lake.enabled: at least one { table: schema.table } made by `cdc-views lake init`" -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $l.tables -}}
{{- $dns := include "cdc-views.lakeTableDns" .table -}}
{{- if hasKey $seen $dns -}}
{{- fail (printf "lake.tables: %s and %s give the same resource name (%s); each table appears once" (get $seen $dns) .table $dns) -}}
{{- end -}}
{{- $_ := set $seen $dns .table -}}
{{- end -}}
{{- $names := concat (keys .Values.secretEnv) (keys (default (dict) .Values.credentials.files)) -}}
{{- range .Values.extraEnv }}{{ $names = append $names .name }}{{ end -}}
{{- $secret := or (has "CDCV_LAKE_S3_SECRET_ACCESS_KEY" $names) (has "CDCV_LAKE_S3_SECRET_ACCESS_KEY_FILE" $names) -}}
{{- if and $l.s3.accessKeyId (not $secret) -}}
{{- fail "lake.s3.accessKeyId needs its secret key from a Secret: secretEnv.CDCV_LAKE_S3_SECRET_ACCESS_KEY: { secretName, key }, or credentials.files.CDCV_LAKE_S3_SECRET_ACCESS_KEY_FILE: <key of credentials.existingSecret>" -}}
{{- end -}}
{{- if and $secret (not $l.s3.accessKeyId) -}}
{{- fail "the lake's S3 secret key is given (secretEnv or credentials.files) without lake.s3.accessKeyId: set both, or neither for the AWS default credential chain (e.g. IRSA through serviceAccount.annotations)" -}}
{{- end -}}
{{- end -}}

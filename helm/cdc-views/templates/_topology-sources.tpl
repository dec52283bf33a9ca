{{/*
Topology files mounted from a ConfigMap (topologySources): the chart's own,
<fullname>-topology-files, built from topologySources.files, or the one named
by topologySources.existingConfigMap. Mounted read-only at
/etc/cdc-views/topologies in the pods of the topologies whose `topology` is
a file there.
*/}}

{{- define "cdc-views.topologyMountPath" -}}/etc/cdc-views/topologies{{- end -}}

{{/* "true" when topology files come from a ConfigMap. */}}
{{- define "cdc-views.topologySourcesEnabled" -}}
{{- if or .Values.topologySources.files .Values.topologySources.existingConfigMap -}}true{{- end -}}
{{- end -}}

{{/* Name of the ConfigMap holding the topology files. */}}
{{- define "cdc-views.topologySourcesConfigMap" -}}
{{- default (printf "%s-topology-files" (include "cdc-views.fullname" . | trunc 48 | trimSuffix "-")) .Values.topologySources.existingConfigMap -}}
{{- end -}}

{{/* "true" when a topology loads its module from the mounted files. (dict "root" $ "t" $topology) */}}
{{- define "cdc-views.mountsTopologySources" -}}
{{- if hasPrefix (printf "%s/" (include "cdc-views.topologyMountPath" .)) .t.topology -}}true{{- end -}}
{{- end -}}

{{/*
Checksum of the topology files: of topologySources.files, or of the name of
the existing ConfigMap (the chart does not read it: `lookup` needs a cluster,
and `helm template` has none). After changing an existing ConfigMap, roll
the pods: kubectl rollout restart, or change podAnnotations.
*/}}
{{- define "cdc-views.topologySourcesChecksum" -}}
{{- $s := .Values.topologySources -}}
{{- if $s.existingConfigMap -}}
{{- printf "configmap/%s" $s.existingConfigMap | sha256sum -}}
{{- else -}}
{{- toJson $s.files | sha256sum -}}
{{- end -}}
{{- end -}}

{{/* Fails on a topology file the mount will not hold. (dict "root" $ "t" $topology) */}}
{{- define "cdc-views.validateTopologySource" -}}
{{- $s := .root.Values.topologySources -}}
{{- $dir := include "cdc-views.topologyMountPath" . -}}
{{- if and $s.files $s.existingConfigMap -}}
{{- fail "topologySources: set files or existingConfigMap, not both" -}}
{{- end -}}
{{- if include "cdc-views.mountsTopologySources" . -}}
{{- if not (include "cdc-views.topologySourcesEnabled" .root) -}}
{{- fail (printf "topologies[%s]: topology %s is in %s, but neither topologySources.files nor topologySources.existingConfigMap is set" .t.name .t.topology $dir) -}}
{{- end -}}
{{- $file := trimPrefix (printf "%s/" $dir) .t.topology -}}
{{- if and $s.files (not (hasKey $s.files $file)) -}}
{{- fail (printf "topologies[%s]: topology %s is not a file of topologySources.files (%s)" .t.name .t.topology (keys $s.files | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}
{{- end -}}

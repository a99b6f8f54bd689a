{{/* The chart name, or nameOverride. */}}
{{- define "tollbooth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object's name: the release name, plus the chart name unless already in it. */}}
{{- define "tollbooth.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tollbooth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tollbooth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tollbooth.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tollbooth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tollbooth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tollbooth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Where the keys file from apiKeys is mounted. */}}
{{- define "tollbooth.keysDir" -}}/etc/tollbooth/keys{{- end }}

{{/* Where the Secret of adminTls is mounted. */}}
{{- define "tollbooth.adminTlsDir" -}}/etc/tollbooth-admin-tls{{- end }}

{{/* The Secret holding the keys file: the operator's existing one, or the chart's. */}}
{{- define "tollbooth.keysSecretName" -}}
{{- default (printf "%s-keys" (include "tollbooth.fullname" .)) .Values.apiKeys.existingSecret }}
{{- end }}

{{/* The API and admin ports come from the Tollbooth config itself, so they cannot disagree with it. */}}
{{- define "tollbooth.apiPort" -}}
{{- dig "server" "port" 8080 .Values.config }}
{{- end }}
{{- define "tollbooth.adminPort" -}}
{{- dig "admin" "port" 8081 .Values.config }}
{{- end }}

{{/* The drain timeout (ms) of the config, Tollbooth's default when unset. */}}
{{- define "tollbooth.drainTimeoutMs" -}}
{{- dig "server" "drainTimeoutMs" 30000 .Values.config }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the preStop sleep, then the whole drain (rounded up to seconds),
then the extra seconds for the drain's final close and the exit.
*/}}
{{- define "tollbooth.terminationGracePeriodSeconds" -}}
{{- $drainSeconds := divf (include "tollbooth.drainTimeoutMs" . | float64) 1000 | ceil | int }}
{{- add .Values.lifecycle.preStopSleepSeconds $drainSeconds .Values.lifecycle.terminationExtraSeconds }}
{{- end }}

{{/* The Tollbooth config file: the values' config, with auth.keysFile pointing at the mounted keys and admin.tls at the mounted certificates. */}}
{{- define "tollbooth.configFile" -}}
{{- $config := deepCopy .Values.config }}
{{- if .Values.apiKeys.enabled }}
{{- $auth := get $config "auth" | default dict }}
{{- $_ := set $auth "keysFile" (printf "%s/%s" (include "tollbooth.keysDir" .) .Values.apiKeys.secretKey) }}
{{- $_ := set $config "auth" $auth }}
{{- end }}
{{- if .Values.adminTls.enabled }}
{{- if and .Values.adminTls.requireClientCertificate (not .Values.adminTls.clientCa) }}
{{- fail "adminTls.requireClientCertificate needs adminTls.clientCa (the ca.crt that signs the client certificates)" }}
{{- end }}
{{- $dir := include "tollbooth.adminTlsDir" . }}
{{- $tls := dict "cert" (printf "%s/tls.crt" $dir) "key" (printf "%s/tls.key" $dir) "requireClientCertificate" .Values.adminTls.requireClientCertificate }}
{{- if .Values.adminTls.clientCa }}
{{- $_ := set $tls "ca" (printf "%s/ca.crt" $dir) }}
{{- end }}
{{- $admin := get $config "admin" | default dict }}
{{- $_ := set $admin "tls" $tls }}
{{- $_ := set $config "admin" $admin }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* Whether the config serves the admin listener (Tollbooth's default: yes). */}}
{{- define "tollbooth.adminEnabled" -}}
{{- if dig "admin" "enabled" true .Values.config }}true{{ end }}
{{- end }}

{{/* The `helm test` pod: not the gateway's selector labels, so no Service ever sends it traffic. */}}
{{- define "tollbooth.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "tollbooth.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

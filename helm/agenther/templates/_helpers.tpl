{{/* Names and labels shared by every template. */}}

{{- define "agenther.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "agenther.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "agenther.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agenther.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "agenther.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "agenther.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "agenther.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "agenther.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where the writable volumes are mounted; the cache path also goes into pipeline.cache_dir. */}}
{{- define "agenther.cacheDir" -}}/var/cache/agenther{{- end -}}
{{- define "agenther.configDir" -}}/etc/agenther{{- end -}}

{{/*
The service's --config file: values.config plus the chart-managed keys, so the metrics port
always matches the container port and probes, and the LLM cache lands on its volume.
*/}}
{{- define "agenther.configFile" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $_ := set $cfg "metrics_host" "0.0.0.0" -}}
{{- $_ := set $cfg "metrics_port" (int .Values.metrics.port) -}}
{{- $pipeline := deepCopy (default dict .Values.config.pipeline) -}}
{{- $_ := set $pipeline "cache_dir" (include "agenther.cacheDir" .) -}}
{{- $_ := set $cfg "pipeline" $pipeline -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* Settings combinations the service would only reject at start-up, refused at install. */}}
{{- define "agenther.validate" -}}
{{- if and .Values.autoscaling.enabled .Values.keda.enabled -}}
{{- fail "autoscaling.enabled and keda.enabled are mutually exclusive: KEDA creates its own HPA" -}}
{{- end -}}
{{- if and .Values.config.sasl_mechanism (not .Values.kafka.sasl.existingSecret) -}}
{{- fail "config.sasl_mechanism is set: name the Secret holding the password in kafka.sasl.existingSecret" -}}
{{- end -}}
{{- if and .Values.config.sasl_mechanism (not .Values.config.sasl_username) -}}
{{- fail "config.sasl_mechanism is set: config.sasl_username is required" -}}
{{- end -}}
{{- end -}}

{{/* Secrets reach the pod only as references; the chart never sees a value. */}}
{{- define "agenther.env" -}}
{{- $env := list -}}
{{- with .Values.llm.existingSecret -}}
{{- $env = append $env (dict "name" "OPENAI_API_KEY" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" $.Values.llm.apiKeyKey))) -}}
{{- end -}}
{{- with .Values.llm.judge.existingSecret -}}
{{- $env = append $env (dict "name" "AGENTHER_JUDGE_API_KEY" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" $.Values.llm.judge.apiKeyKey))) -}}
{{- end -}}
{{- with .Values.kafka.sasl.existingSecret -}}
{{- $env = append $env (dict "name" "AGENTHER_SASL_PASSWORD" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" $.Values.kafka.sasl.passwordKey))) -}}
{{- end -}}
{{- $env = concat $env .Values.extraEnv -}}
{{- toYaml $env -}}
{{- end -}}

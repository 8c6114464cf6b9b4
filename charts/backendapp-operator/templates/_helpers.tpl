{{/*
The chart name, or nameOverride.
*/}}
{{- define "backendapp-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: fullnameOverride, else the release name, with
the chart name appended unless the release name already contains it. Kept to 52
characters so suffixes such as "-leader-election" still fit in 63.
*/}}
{{- define "backendapp-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "backendapp-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource (Kubernetes' recommended labels).
*/}}
{{- define "backendapp-operator.labels" -}}
helm.sh/chart: {{ include "backendapp-operator.chart" . }}
{{ include "backendapp-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: backendapp-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the operator pods; never change them in an upgrade
(a Deployment's selector is immutable).
*/}}
{{- define "backendapp-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "backendapp-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "backendapp-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "backendapp-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "backendapp-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The operator's RBAC rules: files/rbac-rules.yaml, a copy of config/rbac/rules.yaml
(the single source) written by `npm run generate`. Each rule keeps its reason as a
comment. Rendered under `rules:` at column 0.
*/}}
{{- define "backendapp-operator.rules" -}}
{{- $rules := .Files.Get "files/rbac-rules.yaml" }}
{{- if not $rules }}
{{- fail "files/rbac-rules.yaml is missing from the chart; run `npm run generate` in the operator's repository" }}
{{- end }}
{{- $rules }}
{{- end }}

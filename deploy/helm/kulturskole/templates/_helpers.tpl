{{/* Names and labels. */}}
{{- define "kulturskole.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kulturskole.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kulturskole.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "kulturskole.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kulturskole
{{- end -}}

{{/* Selector of one component: pass (dict "root" $ "component" "registration"). */}}
{{- define "kulturskole.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kulturskole.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kulturskole.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kulturskole.secretName" -}}
{{- default (include "kulturskole.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Services that run, in a fixed order; the set-up Job prepares these. */}}
{{- define "kulturskole.enabledServices" -}}
{{- $names := list -}}
{{- range $name, $svc := .Values.services -}}
{{- if $svc.enabled -}}{{- $names = append $names $name -}}{{- end -}}
{{- end -}}
{{- join "," $names -}}
{{- end -}}

{{/* The database URL of a role: pass (dict "root" $ "user" u "password" p "database" d). */}}
{{- define "kulturskole.dsn" -}}
{{- $pg := .root.Values.postgresql -}}
{{- printf "postgresql://%s:%s@%s:%v/%s" (urlquery .user) (urlquery .password) $pg.host $pg.port .database -}}
{{- end -}}

{{/*
TLS to PostgreSQL as libpq's variables, which asyncpg reads too: the DSNs stay as they are
(also those of your own Secret), and no path goes into a URL.
*/}}
{{- define "kulturskole.pgTlsEnv" -}}
{{- with .Values.postgresql.sslMode }}
- name: PGSSLMODE
  value: {{ . | quote }}
{{- end }}
{{- if .Values.postgresql.caSecret }}
- name: PGSSLROOTCERT
  value: /etc/kulturskole/postgresql/ca.crt
{{- end }}
{{- end -}}

{{/* The PostgreSQL CA as a volume and its mount (postgresql.caSecret); empty without it. */}}
{{- define "kulturskole.pgCaVolume" -}}
{{- with .Values.postgresql.caSecret }}
- name: postgresql-ca
  secret:
    secretName: {{ . }}
    items:
      - {key: {{ $.Values.postgresql.caKey }}, path: ca.crt}
{{- end }}
{{- end -}}

{{- define "kulturskole.pgCaMount" -}}
{{- if .Values.postgresql.caSecret }}
- name: postgresql-ca
  mountPath: /etc/kulturskole/postgresql
  readOnly: true
{{- end }}
{{- end -}}

{{/*
Non-secret settings of every service, as KS_<SERVICE>_* variables. Each service reads its
own prefix only; the set-up Job reads them all.
*/}}
{{- define "kulturskole.configData" -}}
KS_SETUP_SERVICES: {{ include "kulturskole.enabledServices" . | quote }}
{{- range $name, $svc := .Values.services }}
{{- if $svc.enabled }}
{{- $p := printf "KS_%s_" (upper $name) }}
{{ $p }}KAFKA_BOOTSTRAP: {{ $.Values.kafka.bootstrap | quote }}
{{- include "kulturskole.kafkaSecurity" (dict "root" $ "prefix" $p "kafka" (default dict $svc.kafka) "key" $name) }}
{{ $p }}KAFKA_REPLICATION_FACTOR: {{ $.Values.kafka.replicationFactor | quote }}
{{ $p }}KAFKA_MIN_INSYNC_REPLICAS: {{ $.Values.kafka.minInsyncReplicas | quote }}
{{ $p }}TOPIC_PREFIX: {{ $.Values.kafka.topicPrefix | quote }}
{{ $p }}HTTP_HOST: "0.0.0.0"
{{ $p }}HTTP_PORT: {{ $svc.port | quote }}
{{ $p }}LOG_LEVEL: {{ $.Values.logLevel | quote }}
{{- range $key, $value := $svc.env }}
{{ $p }}{{ upper $key }}: {{ $value | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.setup.kafkaUsername }}
KS_SETUP_KAFKA_BOOTSTRAP: {{ .Values.kafka.bootstrap | quote }}
{{- include "kulturskole.kafkaSecurity" (dict "root" $ "prefix" "KS_SETUP_" "kafka" (dict "username" .Values.setup.kafkaUsername) "key" "setup") }}
{{- end }}
{{- if .Values.services.notification.enabled }}
KS_NOTIFICATION_SMTP_HOST: {{ .Values.smtp.host | quote }}
KS_NOTIFICATION_SMTP_PORT: {{ .Values.smtp.port | quote }}
KS_NOTIFICATION_SMTP_STARTTLS: {{ .Values.smtp.starttls | quote }}
KS_NOTIFICATION_SMTP_TLS: {{ .Values.smtp.tls | quote }}
KS_NOTIFICATION_MAIL_FROM: {{ .Values.notification.mailFrom | quote }}
KS_NOTIFICATION_PROGRAMME_MAILBOX: {{ .Values.notification.programmeMailbox | quote }}
{{- end }}
{{- end -}}

{{/*
How one client logs in, as <prefix>KAFKA_* settings (no secret: passwords and keys are files
from kafka.existingSecret). Pass (dict "root" $ "prefix" "KS_X_" "kafka" overrides "key" k).
*/}}
{{- define "kulturskole.kafkaSecurity" -}}
{{- $k := .root.Values.kafka -}}
{{- $protocol := default $k.securityProtocol .kafka.securityProtocol -}}
{{- $dir := "/etc/kulturskole/kafka" }}
{{ .prefix }}KAFKA_SECURITY_PROTOCOL: {{ $protocol | quote }}
{{- if hasPrefix "SASL_" $protocol }}
{{- if not $k.existingSecret }}{{ fail "kafka.existingSecret is required with a SASL security protocol (it holds the passwords)" }}{{ end }}
{{ .prefix }}KAFKA_SASL_MECHANISM: {{ default $k.saslMechanism .kafka.saslMechanism | quote }}
{{ .prefix }}KAFKA_SASL_USERNAME: {{ required "each service needs services.<name>.kafka.username with SASL" .kafka.username | quote }}
{{ .prefix }}KAFKA_SASL_PASSWORD_FILE: {{ printf "%s/%s.password" $dir .key | quote }}
{{- end }}
{{- if has $protocol (list "SSL" "SASL_SSL") }}
{{- if and $k.caKey $k.existingSecret }}
{{ .prefix }}KAFKA_SSL_CA_FILE: {{ printf "%s/ca.crt" $dir | quote }}
{{- end }}
{{- if $k.mutualTls }}
{{ .prefix }}KAFKA_SSL_CERT_FILE: {{ printf "%s/%s.crt" $dir .key | quote }}
{{ .prefix }}KAFKA_SSL_KEY_FILE: {{ printf "%s/%s.key" $dir .key | quote }}
{{- end }}
{{ .prefix }}KAFKA_SSL_CHECK_HOSTNAME: {{ $k.sslCheckHostname | quote }}
{{- end }}
{{- end -}}

{{/*
The Kafka Secret as a volume with only the keys of the clients named (their passwords,
the CA, their certificates): pass (dict "root" $ "keys" (list ...)). Empty without
kafka.existingSecret.
*/}}
{{- define "kulturskole.kafkaVolume" -}}
{{- $k := .root.Values.kafka -}}
{{- if $k.existingSecret }}
- name: kafka-credentials
  secret:
    secretName: {{ $k.existingSecret }}
    defaultMode: 0400
    items:
      {{- range $key := .keys }}
      {{- if hasPrefix "SASL_" $k.securityProtocol }}
      - {key: {{ printf "%s.password" $key }}, path: {{ printf "%s.password" $key }}}
      {{- end }}
      {{- if $k.mutualTls }}
      - {key: {{ printf "%s.crt" $key }}, path: {{ printf "%s.crt" $key }}}
      - {key: {{ printf "%s.key" $key }}, path: {{ printf "%s.key" $key }}}
      {{- end }}
      {{- end }}
      {{- if and $k.caKey (has $k.securityProtocol (list "SSL" "SASL_SSL")) }}
      - {key: {{ $k.caKey }}, path: ca.crt}
      {{- end }}
{{- end }}
{{- end -}}

{{/* The keys of the Kafka Secret the set-up Job reads: its own, or every service's. */}}
{{- define "kulturskole.setupKafkaKeys" -}}
{{- if .Values.setup.kafkaUsername -}}
setup
{{- else -}}
{{ include "kulturskole.enabledServices" . }}
{{- end -}}
{{- end -}}

{{/*
Secret settings: one DSN per service role, the API tokens, the person-token secret (one
value, under each service's name), the set-up's superuser DSN.
*/}}
{{- define "kulturskole.secretData" -}}
{{- $pg := .Values.postgresql -}}
{{- range $name, $svc := .Values.services }}
{{- if $svc.enabled }}
{{- $role := index $pg.roles $name }}
{{- $password := required (printf "postgresql.roles.%s.password is required (or secrets.existingSecret)" $name) $role.password }}
KS_{{ upper $name }}_DATABASE_URL: {{ include "kulturskole.dsn" (dict "root" $ "user" $role.user "password" $password "database" $pg.database) | b64enc | quote }}
{{- end }}
{{- end }}
{{- range $name, $tokens := .Values.secrets.apiTokens }}
KS_{{ upper $name }}_API_TOKENS: {{ $tokens | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.personTokenSecret }}
{{- $secret := . }}
{{- range $name, $svc := $.Values.services }}
{{- if $svc.enabled }}
KS_{{ upper $name }}_PERSON_TOKEN_SECRET: {{ $secret | b64enc | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.setup.enabled .Values.setup.provision }}
{{- $password := required "postgresql.superuser.password is required for setup.provision (or secrets.existingSecret)" $pg.superuser.password }}
KS_SETUP_PG_SUPERUSER_DSN: {{ include "kulturskole.dsn" (dict "root" $ "user" $pg.superuser.user "password" $password "database" "postgres") | b64enc | quote }}
{{- end }}
{{- end -}}

{{- define "kulturskole.podSecurity" -}}
# The services never call the Kubernetes API.
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}


{{- define "kulturskole.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kulturskole.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The chart's own SMTP Secret (when the login is given inline): its data, base64. */}}
{{- define "kulturskole.smtpSecretData" -}}
{{- $smtp := .Values.smtp -}}
{{- if and $smtp.password (not $smtp.username) }}{{ fail "smtp.password is given without smtp.username" }}{{ end -}}
{{ $smtp.usernameKey }}: {{ $smtp.username | b64enc | quote }}
{{ $smtp.passwordKey }}: {{ required "smtp.password is required with smtp.username (or smtp.existingSecret)" $smtp.password | b64enc | quote }}
{{- end -}}

{{/* The ports of kafka.bootstrap ("host:port,host:port"), each once. */}}
{{- define "kulturskole.kafkaPorts" -}}
{{- $ports := list -}}
{{- range $server := splitList "," .Values.kafka.bootstrap -}}
{{- $parts := splitList ":" (trim $server) -}}
{{- $ports = append $ports (last $parts) -}}
{{- end -}}
{{- join "," (uniq $ports) -}}
{{- end -}}

{{/*
Egress rules of a pod of the chart: DNS, Kafka, PostgreSQL, and SMTP when asked. Pass
(dict "root" $ "smtp" bool). An empty list of peers means any address on those ports.
*/}}
{{- define "kulturskole.egress" -}}
{{- $np := .root.Values.networkPolicy -}}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
  {{- with $np.dnsTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
- ports:
    {{- range $port := splitList "," (include "kulturskole.kafkaPorts" .root) }}
    - {port: {{ int $port }}, protocol: TCP}
    {{- end }}
  {{- with $np.kafkaTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
- ports:
    - {port: {{ int .root.Values.postgresql.port }}, protocol: TCP}
  {{- with $np.postgresqlTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- if .smtp }}
- ports:
    - {port: {{ int .root.Values.smtp.port }}, protocol: TCP}
  {{- with $np.smtpTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- with $np.extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end -}}

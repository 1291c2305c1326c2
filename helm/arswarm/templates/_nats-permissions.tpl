{{/*
NATS permissions of the two users, the only place they are written. Stream,
subject and bucket names follow common/subjects.ts (names(prefix)): streams
<PREFIX>_TRIALS/_RESULTS/_EVENTS, KV buckets <PREFIX>_workers/_control (whose
streams are KV_<bucket>), subjects <prefix>.trials.>, <prefix>.results.>,
<prefix>.events. test/helm/nats-permissions.test.ts checks them against that
module and against a real nats-server.
*/}}

{{/* The coordinator: everything under the prefix, and the JetStream API. */}}
{{- define "arswarm.nats.coordinatorPermissions" -}}
{{- $p := include "arswarm.prefix" . -}}
{{- $P := upper $p -}}
publish:
  allow:
    - {{ printf "%s.>" $p | quote }}
    - {{ printf "$KV.%s_workers.>" $P | quote }}
    - {{ printf "$KV.%s_control.>" $P | quote }}
    # Stream and consumer management: JetStream API subjects put the stream
    # name in one token, which a wildcard cannot match by prefix.
    - "$JS.API.>"
    - {{ printf "$JS.ACK.%s_TRIALS.>" $P | quote }}
    - {{ printf "$JS.ACK.%s_RESULTS.>" $P | quote }}
    - {{ printf "$JS.ACK.%s_EVENTS.>" $P | quote }}
    - {{ printf "$JS.ACK.KV_%s_workers.>" $P | quote }}
    - {{ printf "$JS.ACK.KV_%s_control.>" $P | quote }}
    - "$JS.FC.>"
subscribe:
  allow:
    - {{ printf "%s.>" $p | quote }}
    - "_INBOX.>"
{{- end -}}

{{/*
A worker: pull trials and ack them, publish results, write heartbeats, read
the control bucket (the ladder), publish live progress (<prefix>.progress.>)
and answer stop requests (<prefix>.stop.>; allow_responses lets it reply to a
request it received, not publish to any _INBOX). It can not publish the ledger
(<prefix>.events), queue trials, write control flags or manage streams.
*/}}
{{- define "arswarm.nats.workerPermissions" -}}
{{- $p := include "arswarm.prefix" . -}}
{{- $P := upper $p -}}
publish:
  allow:
    - "$JS.API.INFO"
    - {{ printf "$JS.API.CONSUMER.INFO.%s_TRIALS.*" $P | quote }}
    - {{ printf "$JS.API.CONSUMER.MSG.NEXT.%s_TRIALS.*" $P | quote }}
    - {{ printf "$JS.ACK.%s_TRIALS.>" $P | quote }}
    - {{ printf "%s.results.>" $p | quote }}
    - {{ printf "%s.progress.>" $p | quote }}
    - {{ printf "$KV.%s_workers.>" $P | quote }}
    - {{ printf "$JS.API.STREAM.INFO.KV_%s_workers" $P | quote }}
    - {{ printf "$JS.API.STREAM.INFO.KV_%s_control" $P | quote }}
    - {{ printf "$JS.API.DIRECT.GET.KV_%s_control.>" $P | quote }}
    - {{ printf "$JS.API.STREAM.MSG.GET.KV_%s_control" $P | quote }}
    # Watching the ladder key: an ordered consumer on the control bucket.
    - {{ printf "$JS.API.CONSUMER.CREATE.KV_%s_control" $P | quote }}
    - {{ printf "$JS.API.CONSUMER.CREATE.KV_%s_control.>" $P | quote }}
    - {{ printf "$JS.API.CONSUMER.INFO.KV_%s_control.*" $P | quote }}
    - {{ printf "$JS.API.CONSUMER.DELETE.KV_%s_control.*" $P | quote }}
    - {{ printf "$JS.API.CONSUMER.MSG.NEXT.KV_%s_control.*" $P | quote }}
    - {{ printf "$JS.FC.KV_%s_control.>" $P | quote }}
  deny:
    - {{ printf "%s.events" $p | quote }}
    - {{ printf "%s.trials.>" $p | quote }}
    - {{ printf "$KV.%s_control.>" $P | quote }}
subscribe:
  allow:
    - "_INBOX.>"
    - {{ printf "%s.stop.>" $p | quote }}
allow_responses: true
{{- end -}}

{{/* The NATS server's authorization block; passwords come from the environment. */}}
{{- define "arswarm.nats.authorization" -}}
authorization {
  users: [
    {
      user: {{ .Values.nats.auth.coordinatorUser | quote }}
      password: $ARSWARM_NATS_COORDINATOR_PASSWORD
      permissions: {{ include "arswarm.nats.confPermissions" (include "arswarm.nats.coordinatorPermissions" . | fromYaml) }}
    }
    {
      user: {{ .Values.nats.auth.workerUser | quote }}
      password: $ARSWARM_NATS_WORKER_PASSWORD
      permissions: {{ include "arswarm.nats.confPermissions" (include "arswarm.nats.workerPermissions" . | fromYaml) }}
    }
  ]
}
{{- end -}}


{{/* A permissions dict in NATS config syntax (toJson would escape ">" as \u003e). */}}
{{- define "arswarm.nats.confPermissions" -}}
{{- $perms := . -}}
{{- $parts := list -}}
{{- range $dir := list "publish" "subscribe" -}}
{{- $rules := get $perms $dir -}}
{{- if $rules -}}
{{- $lists := list -}}
{{- range $kind := list "allow" "deny" -}}
{{- $subjects := get $rules $kind -}}
{{- if $subjects -}}
{{- $quoted := list -}}
{{- range $subjects }}{{ $quoted = append $quoted (quote .) }}{{ end -}}
{{- $lists = append $lists (printf "%s: [%s]" $kind (join ", " $quoted)) -}}
{{- end -}}
{{- end -}}
{{- $parts = append $parts (printf "%s: { %s }" $dir (join ", " $lists)) -}}
{{- end -}}
{{- end -}}
{{- if get $perms "allow_responses" -}}
{{- $parts = append $parts "allow_responses: true" -}}
{{- end -}}
{ {{ join ", " $parts }} }
{{- end -}}

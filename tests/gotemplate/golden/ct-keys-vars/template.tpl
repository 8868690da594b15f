{{ key "service/redis/maxconns" }}
{{ keyOrDefault "service/redis/nope" "5" }}
{{ if keyExists "app/beta_active" }}beta{{ else }}stable{{ end }}
{{ with nomadVar "nomad/jobs/redis" }}{{ .maxconns }}{{ end }}
{{ range nomadVarList }}
  {{ . }}
{{ end }}
{{- if nomadVarExists "app/beta_active" }}beta{{ else }}no-beta{{ end }}

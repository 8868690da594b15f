{{ range ls "service/redis" }}
  {{ .Key }}:{{ .Value }}
{{ end }}
{{ range tree "service/redis" }}
{{ .Key }}:{{ .Value }}{{ end }}

{{ range services }}
{{ .Name }}: {{ .Tags | join "," }}{{ end }}
{{ range $tag, $services := service "web" | byTag }}{{ $tag }}
{{ range $services }} server {{ .Name }} {{ .Address }}:{{ .Port }}
{{ end }}{{ end }}

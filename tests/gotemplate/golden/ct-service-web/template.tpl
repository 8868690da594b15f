{{ range service "web" }}
server {{ .Name }} {{ .Address }}:{{ .Port }}{{ end }}

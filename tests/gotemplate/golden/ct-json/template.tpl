{{ tree "config" | explode | toJSON }}
{{ tree "config" | explode | toJSONPretty }}
{{ with tree "config" | explode }}{{ .admin.port }}{{ end }}

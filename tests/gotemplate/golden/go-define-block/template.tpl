{{- define "T1"}}ONE{{end}}
{{- define "T2"}}TWO {{template "T1"}}{{end}}
{{- define "T3"}}{{template "T1"}} {{template "T2"}}{{end}}
{{- template "T3"}}
Names:{{block "list" .}}{{"\n"}}{{range .}}{{println "-" .}}{{end}}{{end}}

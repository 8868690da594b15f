{{ with nomadVar "nomad/jobs/app" -}}
DB_USER={{ .user }}
DB_PASSWD={{ .password | toJSON }}
{{ end -}}
NODE={{ env "node.unique.name" }}

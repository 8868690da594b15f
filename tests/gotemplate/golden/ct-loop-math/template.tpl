{{ range $i := loop 5 8 }}
stanza-{{ $i }}{{ end }}
{{ add 1 2 }} {{ 1 | add 2 }} {{ subtract 2 5 }} {{ 5 | subtract 2 }} {{ multiply 2 2 }} {{ divide 2 10 }} {{ 10 | divide 2 }} {{ modulo 2 5 }} {{ 5 | modulo 2 }} {{ minimum 2 5 }} {{ maximum 2 5 }}

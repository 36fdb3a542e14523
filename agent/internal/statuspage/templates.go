package statuspage

import (
	"embed"
	"html/template"
)

//go:embed templates/page.html.tmpl
var templateFS embed.FS

// templates are the page's HTML templates: index, run, and the parts they share.
var templates = template.Must(template.ParseFS(templateFS, "templates/page.html.tmpl"))

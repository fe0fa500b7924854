// Package redact removes secrets from text that is logged, journalled or
// printed. It is a leaf: it imports nothing from scalar-tui, so every package
// (ops/health included) can use it.
package redact

import (
	"regexp"
	"strings"
)

// urlUserinfo matches the scheme and user information of a URL
// ("http://user:pass@"). A password may itself hold '@' when not escaped, so
// the match runs to the last '@' before the host's end.
var urlUserinfo = regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s"'<>]*@`)

// URLs returns s with the user information of every URL in it (user name
// and password) replaced by "***": "http://admin:s3cret@reaper-1:8080/x"
// becomes "http://***@reaper-1:8080/x". It is the one place that does this;
// whatever logs, journals or prints a URL goes through it
// (workflow.Redactor applies it to everything the engine writes).
func URLs(s string) string {
	if !strings.Contains(s, "@") || !strings.Contains(s, "://") {
		return s
	}
	return urlUserinfo.ReplaceAllString(s, "${1}***@")
}

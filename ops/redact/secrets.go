package redact

import (
	"regexp"
	"strings"
)

// secretPattern finds values that look like secrets; group 1 is kept, the
// rest of the match becomes "***" (and group 2, when the pattern has one).
// It is only tried on text holding one of its hints (lower case), which
// keeps ordinary commands cheap.
type secretPattern struct {
	re    *regexp.Regexp
	hints []string
}

var secretWords = []string{"pass", "pwd", "secret", "token", "key", "credential"}

var secretPatterns = []secretPattern{
	// Authorization headers: Bearer, Basic and token schemes.
	{regexp.MustCompile(`(?i)(authorization:\s*(?:bearer|basic|token|digest)\s+)[^\s'"]+`), []string{"authorization"}},
	// --password VALUE, --api-token=VALUE, nodetool's -pw VALUE.
	{regexp.MustCompile(`(?i)((?:^|\s)(?:--?[a-z0-9-]*(?:password|passwd|secret|token|api-?key|access-?key|credentials?)|-pw)(?:=|\s+))(?:"[^"]*"|'[^']*'|[^\s'"]+)`), append([]string{"-pw"}, secretWords...)},
	// NAME=VALUE, NAME: VALUE and "NAME": "VALUE" for names that say secret.
	{regexp.MustCompile(`(?i)((?:^|[^a-z0-9_.-])[a-z0-9_.-]*(?:password|passwd|_pwd|secret|token|api_?key|access_?key|private_?key|credentials?)["']?\s*[=:]\s*)(?:"[^"]*"|'[^']*'|[^\s'"&;,}]+)`), secretWords},
	// Well-known token shapes: AWS access key IDs, GitHub and Slack tokens, JWTs.
	{regexp.MustCompile(`()\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`), []string{"akia", "asia"}},
	{regexp.MustCompile(`()\bgh[pousr]_[A-Za-z0-9]{30,}\b`), []string{"gh"}},
	{regexp.MustCompile(`()\bxox[abprs]-[A-Za-z0-9-]{10,}`), []string{"xox"}},
	{regexp.MustCompile(`()\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`), []string{"eyj"}},
}

// Secrets replaces values that look like secrets with "***": URL userinfo
// (URLs), Authorization header values, the values of
// options and variables named like a password, secret, token or key
// (--password X, -pw X, PASSWORD=X, "token": "X"), and well-known token
// shapes (AWS access key IDs, GitHub and Slack tokens, JWTs). It keeps what
// identifies the value (the user, the option or variable name).
func Secrets(s string) string {
	s = URLs(s)
	lower := strings.ToLower(s)
	for _, p := range secretPatterns {
		for _, h := range p.hints {
			if strings.Contains(lower, h) {
				s = p.re.ReplaceAllString(s, "${1}***${2}")
				break
			}
		}
	}
	return s
}

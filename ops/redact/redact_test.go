package redact

import "testing"

func TestURLs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://admin:s3cret@reaper-1:8080/repair_run", "http://***@reaper-1:8080/repair_run"},
		{"reaper POST https://u:p%40ss@h:8080/x?a=b@c", "reaper POST https://***@h:8080/x?a=b@c"},
		{"two: http://a:b@h1/ and http://c@h2", "two: http://***@h1/ and http://***@h2"},
		{"raw @ in the password: http://u:p@ss@h:1/", "raw @ in the password: http://***@h:1/"},
		{`"url":"http://u:pw@h:9090"`, `"url":"http://***@h:9090"`},
		{"no userinfo: http://h:8080/a@b", "no userinfo: http://h:8080/a@b"},
		{"mail ops@example.com, no URL", "mail ops@example.com, no URL"},
		{"", ""},
	} {
		if got := URLs(c.in); got != c.want {
			t.Errorf("URLs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzURLs(f *testing.F) {
	f.Add("http://admin:s3cret@reaper-1:8080/x")
	f.Fuzz(func(t *testing.T, s string) {
		out := URLs(s)
		if URLs(out) != out {
			t.Errorf("not idempotent: %q -> %q -> %q", s, out, URLs(out))
		}
	})
}

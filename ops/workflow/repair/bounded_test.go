package repair

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A Reaper (or something posing as one) answering with more than
// reaperMaxBody is refused with an error that says why, not half-parsed.
func TestReaperHugeAnswerRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("["))
		entry := []byte(`{"id":"r1","cluster_name":"scalardl","keyspace_name":"scalar","state":"DONE"},`)
		for n := 0; n < reaperMaxBody+(1<<20); n += len(entry) {
			if _, err := w.Write(entry); err != nil {
				return
			}
		}
		w.Write([]byte(`{"id":"last"}]`))
	}))
	defer srv.Close()
	c := newReaperClient(ReaperOptions{URL: srv.URL, Cluster: "scalardl"})
	defer c.close()
	_, err := c.find(context.Background(), "scalar", "scalar-tui run x")
	if err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Fatalf("find = %v, want the answer refused as too large", err)
	}
}

// Credentials in the Reaper URL are refused before anything is planned.
func TestReaperURLWithCredentialsRefused(t *testing.T) {
	o := reaperOpts("http://admin:pw-in-url@reaper-1:8080")
	_, err := PlanAt(testInventory(), o, fixedTime)
	if err == nil || !strings.Contains(err.Error(), "--reaper-password-file") || strings.Contains(err.Error(), "pw-in-url") {
		t.Fatalf("PlanAt = %v, want a refusal naming --reaper-password-file without the password", err)
	}
	for _, bad := range []string{"reaper-1:8080", "ftp://reaper-1", "http://"} {
		if err := CheckReaperURL(bad); err == nil {
			t.Errorf("CheckReaperURL(%q) accepted", bad)
		}
	}
	if err := CheckReaperURL("https://reaper-1.internal:8080/"); err != nil {
		t.Errorf("good URL refused: %v", err)
	}
}

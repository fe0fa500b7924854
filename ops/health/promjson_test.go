package health

import (
	"context"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// referenceDecode decodes an HTTP 200 answer the way the console did before
// the fast path: through client_golang's Query.
func referenceDecode(t testing.TB, body []byte) (model.Value, error) {
	c, err := api.NewClient(api.Config{Address: "http://prometheus.invalid:9090"})
	if err != nil {
		t.Fatal(err)
	}
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}
	v, _, _, err := v1.NewAPI(&replayClient{Client: c, resp: resp, body: body}).Query(context.Background(), "up", evalTime)
	return v, err
}

// sameAsReference fails unless a fast-path result equals client_golang's
// decoding of the same body (NaN compared as equal to NaN).
func sameAsReference(t *testing.T, body []byte, fast model.Vector) {
	t.Helper()
	ref, err := referenceDecode(t, body)
	if err != nil {
		t.Fatalf("fast path took a body client_golang refuses (%v):\n%.300s", err, body)
	}
	rv, ok := ref.(model.Vector)
	if !ok {
		t.Fatalf("fast path took a body client_golang reads as %T:\n%.300s", ref, body)
	}
	if len(rv) != len(fast) {
		t.Fatalf("fast path read %d samples, client_golang %d:\n%.300s", len(fast), len(rv), body)
	}
	for i := range rv {
		r, f := rv[i], fast[i]
		if r == nil || f == nil {
			t.Fatalf("sample %d: nil (reference %v, fast %v)", i, r, f)
		}
		if !reflect.DeepEqual(r.Metric, f.Metric) || r.Timestamp != f.Timestamp || !r.Value.Equal(f.Value) || r.Histogram != nil {
			t.Fatalf("sample %d: fast %+v, client_golang %+v\n%.300s", i, *f, *r, body)
		}
	}
}

// TestDecodeVectorAnswer: the answers Prometheus sends take the fast path and
// come out exactly as client_golang decodes them; anything else is declined
// (the caller then uses client_golang itself).
func TestDecodeVectorAnswer(t *testing.T) {
	for _, name := range []string{"query_up.json", "query_load1.json", "query_cassandra_service.json", "empty_vector.json"} {
		t.Run(name, func(t *testing.T) {
			body := fixture(t, name)
			vec, ok := decodeVectorAnswer(body)
			if !ok {
				t.Fatal("a plain Prometheus answer left the fast path")
			}
			sameAsReference(t, body, vec)
		})
	}
	take := []string{
		// values Prometheus writes for non-finite samples, a fractional timestamp
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"a:9100"},"value":[1768478400.123,"NaN"]},` +
			`{"metric":{"instance":"b:9100"},"value":[1768478400.5,"+Inf"]},{"metric":{},"value":[-1.25,"-Inf"]},{"metric":{"x":"y"},"value":[0,"1e-3"]}]}}`,
		// warnings, infos, stats and unknown keys around the result; white space
		" {\"status\" : \"success\" ,\"warnings\":[\"w\"],\"infos\":null,\"data\":{\"resultType\":\"vector\",\"result\":[ {\"value\":[1,\"2\"],\"metric\":{\"a\":\"b\"},\"extra\":{\"k\":[1,true,null,-0.5e+3]}} ],\"stats\":{\"timings\":{\"evalTotalTime\":0.01}}},\"error\":\"\",\"errorType\":null} \n",
		// escapes and non-ASCII text in label values and names
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"path":"C:\\data \"x\" \u00e9\/","n\u00e4me":"ümlaut","bad":"` + "\xff" + `"},"value":[5,"1"]}]}}`,
	}
	for i, body := range take {
		vec, ok := decodeVectorAnswer([]byte(body))
		if !ok {
			t.Errorf("take %d: declined:\n%s", i, body)
			continue
		}
		sameAsReference(t, []byte(body), vec)
	}
	decline := []string{
		``,
		`null`,
		`{"status":"error","errorType":"bad_data","error":"parse error"}`,
		`{"status":"success"}`,
		`{"Status":"success","data":{"resultType":"vector","result":[]}}`,
		`{"status":"success","data":{"result":[],"resultType":"vector"}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1768478400,"1"]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[]}}`,
		`{"status":"success","status":"success","data":{"resultType":"vector","result":[]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[null]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1e9,"1"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"],"value":[2,"2"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"1","sum":"1"}]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,1]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1",2]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[01,"1"]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[]}} x`,
		`{"status":"success","data":{"resultType":"vector","result":[]},"warnings":[1]}`,
		`{"status":"success","data":{"resultType":"vector","result":[]},"x":"\q"}`,
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]},\"x\":\"a\tb\"}",
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"one"]}]}}`,
	}
	for i, body := range decline {
		if _, ok := decodeVectorAnswer([]byte(body)); ok {
			t.Errorf("decline %d: took %s", i, body)
		}
	}
}

// FuzzDecodeVectorAnswer holds the fast path to client_golang: whatever body
// it takes, client_golang reads the same samples from it.
func FuzzDecodeVectorAnswer(f *testing.F) {
	matches, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "health", "*.json"))
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil && !strings.HasSuffix(m, "snapshot.json") {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"\u00e9\"","b":"c"},"value":[1.5,"NaN"]}]},"warnings":["x"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		vec, ok := decodeVectorAnswer(body)
		if ok {
			sameAsReference(t, body, vec)
		}
	})
}

// TestPrometheusAnswerWithoutResult: a "success" with no data, or null
// samples, is a query error or nothing, never a crash of the console.
func TestPrometheusAnswerWithoutResult(t *testing.T) {
	for _, tc := range []struct {
		body    string
		errors  int
		message string
	}{
		{`{"status":"success"}`, len(snapshotQueries), "holds no result"},
		{`{"status":"success","data":{"resultType":"vector","result":[null]}}`, 0, ""},
		{`{"status":"success","data":{"resultType":"scalar","result":[1768478400,"3"]}}`, 0, ""},
	} {
		url := fakeProm(t, func(_ string, w http.ResponseWriter, _ *http.Request) { w.Write([]byte(tc.body)) })
		src, err := NewPrometheusSource(smallInventory(), url, PrometheusOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		snap, _ := src.Snapshot(context.Background())
		if len(snap.Errors) != tc.errors || (tc.errors > 0 && !strings.Contains(snap.Errors[0].Message, tc.message)) {
			t.Errorf("%s: errors %v, want %d with %q", tc.body, snap.Errors, tc.errors, tc.message)
		}
		allUnknown(t, snap)
	}
}

// TestPrometheusPostFallsBackToGet: a Prometheus behind a proxy that refuses
// POST (405) is still read, by GET, as client_golang does.
func TestPrometheusPostFallsBackToGet(t *testing.T) {
	url := fakeProm(t, func(name string, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		switch name {
		case QUp, QLoad1, QCassandraService:
			w.Write(fixture(t, "query_"+name+".json"))
		default:
			w.Write(fixture(t, "empty_vector.json"))
		}
	})
	src, err := NewPrometheusSource(smallInventory(), url, PrometheusOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := src.Snapshot(context.Background())
	if err != nil || len(snap.Errors) != 0 {
		t.Fatalf("err %v errors %v", err, snap.Errors)
	}
	if c1, _ := snap.Host("cassandra-1"); c1.Load1 == nil || math.Abs(*c1.Load1-0.42) > 1e-9 {
		t.Errorf("cassandra-1 load1 = %v, want 0.42 read by GET", c1.Load1)
	}
}

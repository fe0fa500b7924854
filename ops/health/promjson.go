package health

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/prometheus/common/model"
)

// decodeVectorAnswer is the fast path for an instant query's answer: one pass
// over the body straight into a model.Vector, for the shape Prometheus sends
// on success:
//
//	{"status":"success","data":{"resultType":"vector","result":[
//	  {"metric":{"instance":"…",…},"value":[1768478400.123,"1"]},…]}}
//
// client_golang decodes the same body three times over (the envelope, the
// result, then every sample through encoding/json again), which at 1,000
// hosts cost more CPU than Prometheus spent answering. It reports ok=false for
// anything it does not take exactly as client_golang would (an error status,
// keys in another case or order, duplicate keys, a histogram, a timestamp with
// an exponent, any syntax error …): the caller then decodes the body the
// client_golang way, so those answers, and every error message, are the same
// as before. FuzzDecodeVectorAnswer holds the two to the same result.
func decodeVectorAnswer(body []byte) (vec model.Vector, ok bool) {
	d := jsonReader{b: body, names: map[string]string{}, values: map[string]string{}}
	if !d.next('{') {
		return nil, false
	}
	var status, data bool
	for first := true; ; first = false {
		if d.next('}') {
			break
		}
		if !first && !d.next(',') {
			return nil, false
		}
		key, ok := d.key("status", "data", "errorType", "error", "warnings", "infos")
		if !ok {
			return nil, false
		}
		switch key {
		case "status":
			s, ok := d.plainString()
			if !ok || status || s != "success" {
				return nil, false
			}
			status = true
		case "data":
			if data {
				return nil, false
			}
			if vec, ok = d.vectorData(); !ok {
				return nil, false
			}
			data = true
		case "errorType", "error":
			if !d.stringOrNull() {
				return nil, false
			}
		case "warnings", "infos":
			if !d.stringsOrNull() {
				return nil, false
			}
		default:
			if !d.skip(0) {
				return nil, false
			}
		}
	}
	d.ws()
	if !status || !data || d.i != len(d.b) {
		return nil, false
	}
	return vec, true
}

// jsonReader reads a JSON text in place. Every method reports false on
// anything outside the fast path, and the whole decode is then abandoned.
type jsonReader struct {
	b []byte
	i int
	// names and values intern strings: label names and many values (job,
	// role, mountpoint …) repeat across the samples of one answer.
	names, values map[string]string
	slab          []model.Sample
}

func (d *jsonReader) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next consumes c (after white space) if it comes next.
func (d *jsonReader) next(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *jsonReader) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// rawString reads a string token, validating it as encoding/json does, and
// returns its content. plain means no escapes and only ASCII: the content is
// then the string itself.
func (d *jsonReader) rawString() (content []byte, plain, ok bool) {
	if !d.next('"') {
		return nil, false, false
	}
	start := d.i
	plain = true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return d.b[start : d.i-1], plain, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			plain = false
			d.i++
			if d.i >= len(d.b) {
				return nil, false, false
			}
			switch d.b[d.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i++
			case 'u':
				if d.i+5 > len(d.b) {
					return nil, false, false
				}
				for _, h := range d.b[d.i+1 : d.i+5] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				d.i += 5
			default:
				return nil, false, false
			}
		default:
			if c >= 0x80 {
				plain = false
			}
			d.i++
		}
	}
	return nil, false, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// str reads a string token into a Go string, interned in table. Escapes and
// non-ASCII text go through encoding/json (the rare case), so that invalid
// UTF-8 and \u escapes come out exactly as client_golang decodes them.
func (d *jsonReader) str(table map[string]string) (string, bool) {
	start := d.i
	content, plain, ok := d.rawString()
	if !ok {
		return "", false
	}
	if !plain {
		var s string
		if json.Unmarshal(d.b[start:d.i], &s) != nil {
			return "", false
		}
		return s, true
	}
	if s, ok := table[string(content)]; ok {
		return s, true
	}
	s := string(content)
	table[s] = s
	return s, true
}

// plainString reads a string without escapes (status, resultType).
func (d *jsonReader) plainString() (string, bool) {
	content, plain, ok := d.rawString()
	if !ok || !plain {
		return "", false
	}
	return string(content), true
}

// key reads an object key followed by ':'. A key that encoding/json would
// match case-insensitively to one of known but is spelled otherwise is
// refused, and so is a key with escapes or non-ASCII letters.
func (d *jsonReader) key(known ...string) (string, bool) {
	content, plain, ok := d.rawString()
	if !ok || !plain || !d.next(':') {
		return "", false
	}
	k := string(content)
	for _, n := range known {
		if k != n && strings.EqualFold(k, n) {
			return "", false
		}
	}
	return k, true
}

func (d *jsonReader) null() bool {
	d.ws()
	if bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}

func (d *jsonReader) stringOrNull() bool {
	if d.peek() == 'n' {
		return d.null()
	}
	_, _, ok := d.rawString()
	return ok
}

func (d *jsonReader) stringsOrNull() bool {
	if d.peek() == 'n' {
		return d.null()
	}
	if !d.next('[') {
		return false
	}
	for first := true; ; first = false {
		if d.next(']') {
			return true
		}
		if !first && !d.next(',') {
			return false
		}
		if _, _, ok := d.rawString(); !ok {
			return false
		}
	}
}

// vectorData reads {"resultType":"vector","result":[…]}; resultType must come
// first (Prometheus writes it first).
func (d *jsonReader) vectorData() (model.Vector, bool) {
	if !d.next('{') {
		return nil, false
	}
	var vec model.Vector
	typed, result := false, false
	for first := true; ; first = false {
		if d.next('}') {
			break
		}
		if !first && !d.next(',') {
			return nil, false
		}
		key, ok := d.key("resultType", "result")
		if !ok {
			return nil, false
		}
		switch key {
		case "resultType":
			t, ok := d.plainString()
			if !ok || typed || t != "vector" {
				return nil, false
			}
			typed = true
		case "result":
			if !typed || result || !d.next('[') {
				return nil, false
			}
			vec = model.Vector{}
			for first := true; ; first = false {
				if d.next(']') {
					break
				}
				if !first && !d.next(',') {
					return nil, false
				}
				s, ok := d.sample()
				if !ok {
					return nil, false
				}
				vec = append(vec, s)
			}
			result = true
		default:
			if !d.skip(0) {
				return nil, false
			}
		}
	}
	return vec, typed && result
}

// sample reads {"metric":{…},"value":[<time>,"<value>"]}.
func (d *jsonReader) sample() (*model.Sample, bool) {
	if !d.next('{') {
		return nil, false
	}
	if len(d.slab) == 0 {
		d.slab = make([]model.Sample, 64)
	}
	s := &d.slab[0]
	d.slab = d.slab[1:]
	metric, value := false, false
	for first := true; ; first = false {
		if d.next('}') {
			break
		}
		if !first && !d.next(',') {
			return nil, false
		}
		key, ok := d.key("metric", "value", "histogram")
		if !ok {
			return nil, false
		}
		switch key {
		case "metric":
			if metric || !d.next('{') {
				return nil, false
			}
			s.Metric = make(model.Metric, 8)
			for first := true; ; first = false {
				if d.next('}') {
					break
				}
				if !first && !d.next(',') {
					return nil, false
				}
				d.ws()
				name, ok := d.str(d.names)
				if !ok || !d.next(':') {
					return nil, false
				}
				d.ws()
				val, ok := d.str(d.values)
				if !ok {
					return nil, false
				}
				s.Metric[model.LabelName(name)] = model.LabelValue(val)
			}
			metric = true
		case "value":
			if value || !d.next('[') {
				return nil, false
			}
			d.ws()
			ts, ok := d.timestamp()
			if !ok || s.Timestamp.UnmarshalJSON(ts) != nil || !d.next(',') {
				return nil, false
			}
			d.ws()
			start := d.i
			if _, plain, ok := d.rawString(); !ok || !plain || s.Value.UnmarshalJSON(d.b[start:d.i]) != nil {
				return nil, false
			}
			if !d.next(']') {
				return nil, false
			}
			value = true
		case "histogram":
			return nil, false
		default:
			if !d.skip(0) {
				return nil, false
			}
		}
	}
	return s, metric && value
}

// timestamp reads a number of the form -?(0|[1-9][0-9]*)(\.[0-9]+)?, the
// subset of JSON numbers model.Time parses.
func (d *jsonReader) timestamp() ([]byte, bool) {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	if !d.digits(true) {
		return nil, false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if !d.digits(false) {
			return nil, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return nil, false
	}
	return d.b[start:d.i], true
}

// digits reads one or more digits; integer part rules refuse a leading zero
// followed by more digits.
func (d *jsonReader) digits(integer bool) bool {
	start := d.i
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		d.i++
	}
	n := d.i - start
	if n == 0 {
		return false
	}
	return !integer || n == 1 || d.b[start] != '0'
}

// maxSkipDepth is below encoding/json's nesting limit (10000): deeper values
// leave the fast path, and encoding/json reports them.
const maxSkipDepth = 1000

// skip reads any JSON value, validating it as encoding/json does.
func (d *jsonReader) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	switch d.peek() {
	case '{':
		d.i++
		for first := true; ; first = false {
			if d.next('}') {
				return true
			}
			if !first && !d.next(',') {
				return false
			}
			if _, _, ok := d.rawString(); !ok || !d.next(':') || !d.skip(depth+1) {
				return false
			}
		}
	case '[':
		d.i++
		for first := true; ; first = false {
			if d.next(']') {
				return true
			}
			if !first && !d.next(',') {
				return false
			}
			if !d.skip(depth + 1) {
				return false
			}
		}
	case '"':
		_, _, ok := d.rawString()
		return ok
	case 't':
		return d.word("true")
	case 'f':
		return d.word("false")
	case 'n':
		return d.word("null")
	default:
		return d.number()
	}
}

func (d *jsonReader) word(w string) bool {
	if bytes.HasPrefix(d.b[d.i:], []byte(w)) {
		d.i += len(w)
		return true
	}
	return false
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *jsonReader) number() bool {
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	if !d.digits(true) {
		return false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if !d.digits(false) {
			return false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if !d.digits(false) {
			return false
		}
	}
	return true
}

// Package shell builds command lines for a remote POSIX shell. Quote is the one
// function that quotes every value the console puts into a remote command, so
// that host names, paths and operator input can never be read as shell syntax.
//
// It must not import anything from the project.
package shell

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Quote returns s as one word of a POSIX shell command line: s itself when it
// holds only characters no shell treats specially, otherwise s in single
// quotes, each single quote inside written as quote, backslash, quote, quote.
// The empty string becomes a pair of single quotes. For example:
//
//	it's here  ->  'it'\''s here'
//
// A NUL byte cannot travel in a shell word (argv strings end at NUL); Quote
// keeps it, and the remote shell will cut the word there. Callers that accept
// arbitrary bytes should reject NUL first (see ContainsNUL).
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isSafe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b.WriteString(`'\''`)
			continue
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// isSafe reports whether every byte of s is one no POSIX shell treats
// specially anywhere in a word. '=' and '~' are left out: a leading '~' expands
// and a word with '=' in front of a command is an assignment.
func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '-', c == '.', c == '/', c == ',', c == ':', c == '@', c == '%', c == '+':
		default:
			return false
		}
	}
	return true
}

// Join quotes each argument with Quote and joins them with spaces, giving a
// command line that the remote shell splits back into exactly args.
func Join(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// ContainsNUL reports whether s holds a NUL byte, which no shell word can carry.
func ContainsNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// ErrNotQuoted is returned by Unquote for text Quote could not have produced.
var ErrNotQuoted = errors.New("shell: not a word produced by Quote")

// Unquote reverses Quote. It accepts only the forms Quote writes (bare safe
// words, single-quoted runs and \' between them); it is not a shell parser.
func Unquote(q string) (string, error) {
	if q == "" {
		return "", ErrNotQuoted
	}
	var b strings.Builder
	for i := 0; i < len(q); {
		switch c := q[i]; {
		case c == '\'':
			end := strings.IndexByte(q[i+1:], '\'')
			if end < 0 {
				return "", ErrNotQuoted
			}
			b.WriteString(q[i+1 : i+1+end])
			i += end + 2
		case c == '\\':
			if i+1 >= len(q) || q[i+1] != '\'' {
				return "", ErrNotQuoted
			}
			b.WriteByte('\'')
			i += 2
		case isSafe(string(c)):
			b.WriteByte(c)
			i++
		default:
			return "", ErrNotQuoted
		}
	}
	return b.String(), nil
}

// PGIDMarker starts the line WithPGID writes to standard error.
const PGIDMarker = "@scalar-tui:pgid="

// pgidPrefix is what WithPGID puts before the quoted command.
const pgidPrefix = `printf '%s%s\n' '` + PGIDMarker + `' "$$" >&2; eval `

// WithPGID wraps command so that the remote shell first prints
// PGIDMarker followed by its own PID on a line of standard error, then runs
// command in the same process with eval.
//
// sshd makes the shell that runs an exec request a session (and so process
// group) leader, so that PID names the process group of everything the
// command starts; killing that group is how a cancelled command is stopped
// without relying on SSH "signal" requests, which OpenSSH ignores.
func WithPGID(command string) string { return pgidPrefix + Quote(command) }

// ParseWithPGID returns the command WithPGID wrapped, and false when s is not
// such a wrapper. In-process test servers use it to emulate a shell.
func ParseWithPGID(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, pgidPrefix)
	if !ok {
		return "", false
	}
	cmd, err := Unquote(rest)
	if err != nil {
		return "", false
	}
	return cmd, true
}

// KillGroup returns a command sending signal sig (a name such as "TERM" or
// "KILL") to every process of process group pgid. It prints nothing and
// succeeds when the group is already gone.
func KillGroup(sig string, pgid int) string {
	// No "--": dash's kill rejects it, and -SIG before -PGID is unambiguous.
	return "kill -" + sig + " -" + strconv.Itoa(pgid) + " 2>/dev/null; true"
}

// ParseKillGroup is the inverse of KillGroup.
func ParseKillGroup(s string) (sig string, pgid int, ok bool) {
	rest, ok := strings.CutPrefix(s, "kill -")
	if !ok {
		return "", 0, false
	}
	rest, ok = strings.CutSuffix(rest, " 2>/dev/null; true")
	if !ok {
		return "", 0, false
	}
	sig, num, ok := strings.Cut(rest, " -")
	if !ok {
		return "", 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return sig, n, true
}

// FirstLine is the first line of s that holds text, trimmed of white space
// and of the '@' framing ssh draws around its warnings: a command's output or
// error reduced to one line for a summary or an error message. It is "" when
// s holds no text.
func FirstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.Trim(l, "@ \t\r"); l != "" {
			return l
		}
	}
	return ""
}

// QuotePath quotes a remote path for the remote shell like Quote, except
// that a path in the SSH user's home ("~/x") becomes "$HOME"/'x', which the
// remote shell expands (a quoted "~" is not).
func QuotePath(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return `"$HOME"/` + Quote(rest)
	}
	return Quote(p)
}

// CheckDir accepts a remote directory option: an absolute path or one in
// the home ("~/x"), without "..", control characters or a trailing slash,
// and not "/".
func CheckDir(p string) error {
	if !(strings.HasPrefix(p, "/") || strings.HasPrefix(p, "~/")) || strings.Contains(p, "..") ||
		strings.IndexFunc(p, unicode.IsControl) >= 0 || p == "/" || strings.HasSuffix(p, "/") {
		return fmt.Errorf("bad directory %q: want an absolute path (or ~/path) without '..'", p)
	}
	return nil
}

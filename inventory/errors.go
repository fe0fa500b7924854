package inventory

import (
	"errors"
	"fmt"
)

// ErrBadState is matched (with errors.Is) by every LoadError: the state or the
// roots given cannot be turned into an inventory. Callers map it to "bad input".
var ErrBadState = errors.New("bad terraform state")

// LoadError is the error Load returns for anything wrong with the input: a
// missing root, a file that is not a version-4 Terraform state, a DNS record that
// points at no instance, two hosts with the same name, a terraform binary that
// fails. Path names the file or directory at fault; Problem says what is wrong
// and, where known, what to do.
type LoadError struct {
	// Path is the file or directory the problem is in.
	Path string
	// Problem is a human sentence: what is wrong and what to do next.
	Problem string
	// Err is the underlying error, if any (a JSON syntax error, an exec error,
	// context.Canceled ...).
	Err error
}

// Error implements error: "<path>: <problem>: <err>".
func (e *LoadError) Error() string {
	msg := e.Problem
	if e.Path != "" {
		msg = e.Path + ": " + msg
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *LoadError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrBadState) true for every LoadError that is not a
// cancellation.
func (e *LoadError) Is(target error) bool {
	return target == ErrBadState && !isCanceled(e.Err)
}

func loadErr(path string, err error, format string, args ...any) *LoadError {
	return &LoadError{Path: path, Problem: fmt.Sprintf(format, args...), Err: err}
}

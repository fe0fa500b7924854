package sshx

import (
	"io"
	"time"
)

// RunOptions controls one remote command.
type RunOptions struct {
	// Stdout and Stderr receive the command's output one line at a time (without
	// the trailing newline), in order, from one goroutine per stream. Nil discards.
	Stdout func(line string)
	Stderr func(line string)
	// Stdin, when set, is copied to the remote command's standard input.
	Stdin io.Reader
	// Timeout bounds the command; zero means only ctx bounds it.
	Timeout time.Duration
}

// Result is the outcome of a remote command that ran. A command that could not
// be started (dial, auth, host key) returns an error instead.
type Result struct {
	Host     string
	ExitCode int
	Duration time.Duration
}

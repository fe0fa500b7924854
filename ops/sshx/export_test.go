package sshx

// SetPollChunk sets how much one poll of a detached command reads of each
// output file, and returns a function that restores it.
func SetPollChunk(n int) (restore func()) {
	old := pollChunk
	pollChunk = n
	return func() { pollChunk = old }
}

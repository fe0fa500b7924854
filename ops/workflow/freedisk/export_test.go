package freedisk

import "time"

// SetOtherNodeTimeout shortens otherNodeTimeout for a test; the returned
// func puts it back.
func SetOtherNodeTimeout(d time.Duration) (restore func()) {
	old := otherNodeTimeout
	otherNodeTimeout = d
	return func() { otherNodeTimeout = old }
}

// Package fanout runs independent pieces of work concurrently with a bound:
// the one bounded fan-out of the console (health scrapes, `exec` on many
// hosts). It must not import anything from the project.
package fanout

import (
	"context"
	"sync"
)

// Each calls run(i) for every i in [0, n), at most limit at a time (limit < 1
// means 1), and returns when every call has returned. A piece whose turn has
// not come when ctx ends is not run (nothing starts once ctx has ended): skip(i, ctx.Err()) is called instead
// (skip may be nil). run and skip are called from their own goroutines; each
// i is passed to exactly one of them.
func Each(ctx context.Context, n, limit int, run func(i int), skip func(i int, err error)) {
	if limit < 1 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				if skip != nil {
					skip(i, ctx.Err())
				}
				return
			}
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil {
				// Both were ready and the slot won: nothing starts once
				// ctx has ended.
				if skip != nil {
					skip(i, err)
				}
				return
			}
			run(i)
		}()
	}
	wg.Wait()
}

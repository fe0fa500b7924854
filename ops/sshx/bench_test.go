package sshx_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"scalar-tui/internal/sshtest"
	"scalar-tui/ops/sshx"
)

// BenchmarkRunCached measures one command on an already open host connection
// (session open, exec, output, exit status; in-process servers).
func BenchmarkRunCached(b *testing.B) {
	e := newEnv(b, sshtest.ClusterOptions{Hosts: hosts3[:1], Exec: echoHandler(nil, nil)})
	c := e.client(b)
	ctx := context.Background()
	if _, err := c.Run(ctx, hosts3[0], "echo warm", sshx.RunOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := c.Run(ctx, hosts3[0], "echo hi", sshx.RunOptions{Stdout: func(string) {}})
		if err != nil || res.ExitCode != 0 {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkFanout30 runs one command on 30 hosts at once over cached
// connections, as `exec --role` does.
func BenchmarkFanout30(b *testing.B) {
	var names []string
	for i := 1; i <= 30; i++ {
		names = append(names, fmt.Sprintf("node-%d.internal", i))
	}
	e := newEnv(b, sshtest.ClusterOptions{Hosts: names, Exec: echoHandler(nil, nil)})
	c := e.client(b)
	ctx := context.Background()
	fan := func() {
		var wg sync.WaitGroup
		for _, h := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Run(ctx, h, "echo hi", sshx.RunOptions{}); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	fan() // dial and cache every host
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fan()
	}
}

// BenchmarkFanout30Cold includes dialling 30 hosts through the bastion.
func BenchmarkFanout30Cold(b *testing.B) {
	var names []string
	for i := 1; i <= 30; i++ {
		names = append(names, fmt.Sprintf("node-%d.internal", i))
	}
	e := newEnv(b, sshtest.ClusterOptions{Hosts: names, Exec: echoHandler(nil, nil)})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c, err := sshx.New(e.config())
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, h := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Run(ctx, h, "echo hi", sshx.RunOptions{}); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		c.Close()
	}
}

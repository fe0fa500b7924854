package sshtest

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestHandlerContextCancelledOnClose checks the cancellation contract: when
// the client closes the session, the handler's ctx is cancelled.
func TestHandlerContextCancelledOnClose(t *testing.T) {
	cancelled := make(chan struct{})
	started := make(chan struct{})
	c, err := NewCluster(ClusterOptions{Hosts: []string{"node-1"}, Exec: func(ctx context.Context, s Session) int {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return 1
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conf := &ssh.ClientConfig{
		User: c.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(c.Key.Signer)},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if string(key.Marshal()) != string(c.Bastion.HostKey().Marshal()) {
				t.Error("unexpected bastion key")
			}
			return nil
		},
	}
	cl, err := ssh.Dial("tcp", c.Bastion.Addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("sleep forever"); err != nil {
		t.Fatal(err)
	}
	<-started
	sess.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("handler ctx not cancelled after the session closed")
	}
	// Forwarding refused and unknown targets.
	c.Bastion.SetForwarding(false)
	if _, err := cl.Dial("tcp", "node-1:22"); err == nil {
		t.Error("forwarding should be refused")
	}
	c.Bastion.SetForwarding(true)
	if _, err := cl.Dial("tcp", "node-2:22"); err == nil {
		t.Error("unknown target should be refused")
	}
}

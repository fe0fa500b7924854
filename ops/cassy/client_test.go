package cassy

import (
	"context"
	"strings"
	"testing"
)

func TestMatchCluster(t *testing.T) {
	ring := []string{"10.0.0.1", "10.0.0.2"}
	old := &ClusterListingResponse_Entry{ClusterId: "ScalarDL-a", TargetIps: []string{"10.0.0.2", "10.0.0.1"}, CreatedAt: 1}
	newer := &ClusterListingResponse_Entry{ClusterId: "ScalarDL-b", TargetIps: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, CreatedAt: 2}
	part := &ClusterListingResponse_Entry{ClusterId: "ScalarDL-c", TargetIps: []string{"10.0.0.1"}, CreatedAt: 3}
	other := &ClusterListingResponse_Entry{ClusterId: "Other-d", TargetIps: []string{"10.9.9.9"}}
	m, partial := MatchCluster([]*ClusterListingResponse_Entry{old, part, newer, other}, ring)
	if m != newer || len(partial) != 1 || partial[0] != part {
		t.Errorf("match %v partial %v", m, partial)
	}
	if m, _ := MatchCluster([]*ClusterListingResponse_Entry{part, other}, ring); m != nil {
		t.Errorf("partial cluster matched: %v", m)
	}
}

func TestSummarize(t *testing.T) {
	e := func(ip string, s OperationStatus) *BackupListingResponse_Entry {
		return &BackupListingResponse_Entry{TargetIp: ip, SnapshotId: "s1", Status: s}
	}
	p := Summarize([]*BackupListingResponse_Entry{e("a", OperationStatus_COMPLETED), e("b", OperationStatus_STARTED),
		{TargetIp: "c", SnapshotId: "other", Status: OperationStatus_COMPLETED}}, "s1", []string{"a", "b", "c"})
	if p.Done() || p.Completed != 1 || p.Total != 3 || len(p.Missing) != 1 || p.Missing[0] != "c" {
		t.Errorf("%+v", p)
	}
	if got := p.String(); got != "1/3 nodes COMPLETED (b STARTED, c no entry)" {
		t.Errorf("String() = %q", got)
	}
	p = Summarize([]*BackupListingResponse_Entry{e("a", OperationStatus_COMPLETED), e("b", OperationStatus_FAILED)}, "s1", nil)
	if p.Done() || len(p.Failed) != 1 || p.Failed[0] != "b" || p.Total != 2 {
		t.Errorf("%+v", p)
	}
	p = Summarize([]*BackupListingResponse_Entry{e("a", OperationStatus_COMPLETED), e("b", OperationStatus_COMPLETED)}, "s1", []string{"a", "b"})
	if !p.Done() {
		t.Errorf("%+v", p)
	}
}

func TestClientNeedsDialer(t *testing.T) {
	_, err := Client{Addr: "cassy-1:20051"}.ListClusters(context.Background(), &ClusterListingRequest{})
	if err == nil || !strings.Contains(err.Error(), "no dialer") {
		t.Errorf("err = %v", err)
	}
}

# scalar-tui — see README.md.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN := bin/scalar-tui
# SIM is the simulator and lab binary (cmd/scalar-sim); `scalar-tui lab ...` runs the one beside BIN.
SIM := bin/scalar-sim
TOOLS := $(CURDIR)/.tools/bin
TERRAFORM_VERSION := 1.5.7
export CHECKPOINT_DISABLE := 1

.PHONY: all build sim demo drills test test-short vet fmt tools bench bench-inventory bench-health bench-fanout clean

all: build

## build: the operator's console (bin/scalar-tui) and the simulator/lab (bin/scalar-sim) it runs for `lab`.
build: sim
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/scalar-tui

## sim: only bin/scalar-sim (the lab's hosts run its simulated tools; `scalar-sim lab up|down|fault`).
sim:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(SIM) ./cmd/scalar-sim

## demo: the whole console on a built-in simulated deployment (no root, no packages, no network).
demo: build
	./$(BIN) demo

## drills: every drill (ops/workflow/drill) and one exercise on a fresh lab, then the timing table.
## Root only (the lab makes namespaces); needs openssh-server, iproute2, prometheus, prometheus-alertmanager.
drills: build
	BIN=$(BIN) bash .ci/drills.sh

## tools: project-local tools (terraform $(TERRAFORM_VERSION)) into .tools/bin.
tools: $(TOOLS)/terraform

$(TOOLS)/terraform:
	GOBIN=$(TOOLS) $(GO) install github.com/hashicorp/terraform@v$(TERRAFORM_VERSION)

## test: go vet and every test. Lab tests need root + openssh-server/iproute2/prometheus
## (they skip with a reason elsewhere; .ci/run installs everything and makes them mandatory).
test: tools
	$(GO) vet ./...
	PATH="$(TOOLS):$$PATH" TERRAFORM="$(TOOLS)/terraform" $(GO) test -race -count=1 -timeout 60m ./...

test-short:
	$(GO) test -short -count=1 ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

bench: bench-inventory bench-health

## bench-inventory: the same deployment read directly and through terraform, side by side.
bench-inventory: tools
	TERRAFORM="$(TOOLS)/terraform" $(GO) test -run '^$$' -bench 'Load(Direct|Terraform)$$' -benchtime 20x ./inventory

## bench-health: one health refresh of 1,000 hosts against a real Prometheus over promtool-backfilled blocks
## (needs prometheus and promtool; skipped without them), 10 runs: compare runs with benchstat; then each
## query alone (what it costs Prometheus and the console), and the overview's View() at 1,000 hosts.
## A profile of that Prometheus: go test -run '^$$' -bench 'Refresh1000$$' ./ops/health -args -prom.cpuprofile=FILE
bench-health:
	$(GO) test -run '^$$' -bench 'Refresh1000|RefreshFloor1000|Build1000' -benchtime 20x -count 10 ./ops/health
	$(GO) test -run '^$$' -bench 'Query1000' -benchtime 20x ./ops/health
	$(GO) test -run '^$$' -bench 'OverviewView1000' -benchtime 200x ./tui

## bench-fanout: `true` on 30 lab hosts through the bastion: scalar-tui exec vs OpenSSH (ssh -F, ProxyJump)
## vs ansible -m raw (when installed), median of 3 cold runs each. Root only (the lab makes namespaces).
bench-fanout: build
	BIN=$(BIN) bash .ci/bench-fanout.sh

clean:
	rm -rf bin

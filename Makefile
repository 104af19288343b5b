# launchtap — run `make help` for the targets.
GO        ?= go
BIN       ?= bin
PKGS      ?= ./...
BENCH_PCAP ?= /tmp/launchtap-bench.pcap
BENCH_PACKETS ?= 2000000
FLOOD_PCAP ?= /tmp/launchtap-flood.pcap
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)

.PHONY: help build demo test check race bench eval generate fuzz package clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

build: ## build bin/launchtap and the developer tools
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/launchtap ./cmd/launchtap
	$(GO) build -trimpath -o $(BIN)/launchtap-synth ./cmd/launchtap-synth

demo: ## replay the bundled capture with the bundled inventory and print the alerts
	@$(GO) run ./cmd/launchtap replay --sensor-name demo --inventory testdata/inventory.json testdata/demo.pcapng

test: ## run every test (root-only tests run when root: namespaces, eBPF, rsyslog)
	$(GO) vet $(PKGS)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -count=1 -timeout 25m $(PKGS)

check: test ## alias of test

race: ## run the data path, output and enrichment tests under the race detector
	$(GO) test -race -count=1 -timeout 25m ./sensor/... ./enrich/... ./bpf/...

bench: build ## replay a generated capture and a port-scan flood of >= 2 M packets beside tcpdump; packets/s per core, bytes per pair, micro-benchmarks
	@test -s $(BENCH_PCAP) || $(BIN)/launchtap-synth -scenario bench -seed 1 -packets $(BENCH_PACKETS) -o $(BENCH_PCAP)
	@sh deploy/bench-replay.sh $(BIN)/launchtap $(BENCH_PCAP)
	@echo "== flood: one host scanning $(BENCH_PACKETS) distinct destinations, a beacon interleaved"
	@$(GO) build -trimpath -o $(BIN)/launchtap-flood ./internal/cmd/launchtap-flood
	@test -s $(FLOOD_PCAP) || $(BIN)/launchtap-flood -packets $(BENCH_PACKETS) -o $(FLOOD_PCAP)
	@sh deploy/bench-replay.sh $(BIN)/launchtap $(FLOOD_PCAP)
	@echo "== state per tracked pair (detector) and per tracked session (flow table)"
	$(GO) test -run '^$$' -bench 'PairMemory|SessionMemory' -benchtime 1x ./sensor/beacon ./sensor/flow
	@echo "== per-stage micro-benchmarks (compare runs with benchstat)"
	$(GO) test -run '^$$' -bench 'Decode|Established|ReadPcap|Beat|DNS|ResponsePaths|Replay' -benchmem ./sensor/decode ./sensor/flow ./sensor/capture ./sensor/beacon ./sensor/dnstrack ./sensor/pipeline

eval: build ## labelled detection evaluation over several seeds (recall, precision, period error, RITA side by side)
	$(GO) run ./cmd/launchtap-eval -launchtap $(BIN)/launchtap -compact -check

generate: ## regenerate the eBPF objects (needs clang, llvm) and the detector's band table
	$(GO) generate ./bpf/... ./sensor/beacon

package: ## build dist/launchtap_VERSION_ARCH.deb with nfpm (installs nfpm with go install if missing)
	sh deploy/package.sh dist

fuzz: ## run each fuzz target for FUZZTIME (default 20s)
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-20s} $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN) dist

# launchtap — run `make help` for the targets.
GO        ?= go
BIN       ?= bin
PKGS      ?= ./...
BENCH_PCAP ?= /tmp/launchtap-bench.pcap
BENCH_PACKETS ?= 2000000
FLOOD_PCAP ?= /tmp/launchtap-flood.pcap
OFFICE_PCAP ?= /tmp/launchtap-office.pcap
VERSION   ?= $(shell sh deploy/version.sh 2>/dev/null || echo 0.0.0)
LDFLAGS   := -s -w -X main.version=$(VERSION)

.PHONY: help build demo test check race bench eval generate fuzz package man lint-package pgo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

build: ## build bin/launchtap and the developer tools
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/launchtap ./cmd/launchtap
	$(GO) build -trimpath -o $(BIN)/launchtap-synth ./cmd/launchtap-synth

DEMO_STATE ?= $(BIN)/demo-state

demo: ## replay the bundled capture with the bundled inventory, print the alerts, write bin/demo-report.html
	@rm -rf $(DEMO_STATE)
	@$(GO) run ./cmd/launchtap replay --sensor-name demo --inventory testdata/inventory.json --state-dir $(DEMO_STATE) testdata/demo.pcapng
	@$(GO) run ./cmd/launchtap report --state-dir $(DEMO_STATE) --since all --inventory testdata/inventory.json \
	  --html $(BIN)/demo-report.html --json $(BIN)/demo-report.json
	@echo "evidence report: open $(BIN)/demo-report.html (JSON: $(BIN)/demo-report.json)" >&2

test: ## run every test (root-only tests run when root: namespaces, eBPF, rsyslog); lists every skip with its reason
	$(GO) vet $(PKGS)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	@$(GO) build -o $(BIN)/testsum ./internal/cmd/testsum
	@# testsum prints go test's summary plus each skipped test and why; under CI=true a skip fails.
	@{ $(GO) test -json -count=1 -timeout 25m $(PKGS); echo $$? >$(BIN)/.test-status; } | $(BIN)/testsum; \
	  sum=$$?; status=$$(cat $(BIN)/.test-status); rm -f $(BIN)/.test-status; [ $$sum -eq 0 ] && [ $$status -eq 0 ]

check: test ## alias of test

race: ## run the data path, output and enrichment tests under the race detector
	$(GO) test -race -count=1 -timeout 25m ./sensor/... ./enrich/... ./bpf/...

bench: build ## replay a generated capture, a realistic office day and a port-scan flood of >= 2 M packets beside tcpdump; packets/s per core, bytes per pair, micro-benchmarks
	@test -s $(BENCH_PCAP) || $(BIN)/launchtap-synth -scenario bench -seed 1 -packets $(BENCH_PACKETS) -o $(BENCH_PCAP)
	@sh deploy/bench-replay.sh $(BIN)/launchtap $(BENCH_PCAP)
	@echo "== office: 120 hosts over 24 h, DNS before connections, browsing bursts of short TLS sessions (~2 M packets, ~520 B)"
	@test -s $(OFFICE_PCAP) || $(BIN)/launchtap-synth -scenario office -seed 1 -o $(OFFICE_PCAP)
	@sh deploy/bench-replay.sh $(BIN)/launchtap $(OFFICE_PCAP)
	@echo "== flood: one host scanning $(BENCH_PACKETS) distinct destinations, a beacon interleaved"
	@$(GO) build -trimpath -o $(BIN)/launchtap-flood ./internal/cmd/launchtap-flood
	@test -s $(FLOOD_PCAP) || $(BIN)/launchtap-flood -packets $(BENCH_PACKETS) -o $(FLOOD_PCAP)
	@sh deploy/bench-replay.sh $(BIN)/launchtap $(FLOOD_PCAP)
	@echo "== state per tracked pair (detector) and per tracked session (flow table)"
	$(GO) test -run '^$$' -bench 'PairMemory|SessionMemory' -benchtime 1x ./sensor/beacon ./sensor/flow
	@echo "== hub: observations one launchtap hub process reads from JetStream, merges and scores (target >= 200 k/s), and its merge engine alone"
	$(GO) test -run '^$$' -bench 'BenchmarkHub$$|BenchmarkEngine' -benchtime 1000000x ./sensor/hub/proc ./sensor/hub/merge
	@echo "== per-stage micro-benchmarks (compare runs with benchstat)"
	$(GO) test -run '^$$' -bench 'Decode|Established|ReadPcap|Beat|DNS|ResponsePaths|Replay' -benchmem ./sensor/decode ./sensor/flow ./sensor/capture ./sensor/beacon ./sensor/dnstrack ./sensor/pipeline

eval: build ## labelled detection evaluation over several seeds (recall, precision, period error, RITA side by side)
	$(GO) run ./cmd/launchtap-eval -launchtap $(BIN)/launchtap -compact -check

pgo: build ## refresh cmd/launchtap/default.pgo, the CPU profile Go builds launchtap with (PGO), from replays of the bench, office and flood captures and the demo
	@test -s $(BENCH_PCAP) || $(BIN)/launchtap-synth -scenario bench -seed 1 -packets $(BENCH_PACKETS) -o $(BENCH_PCAP)
	@test -s $(OFFICE_PCAP) || $(BIN)/launchtap-synth -scenario office -seed 1 -o $(OFFICE_PCAP)
	@$(GO) build -trimpath -o $(BIN)/launchtap-flood ./internal/cmd/launchtap-flood
	@test -s $(FLOOD_PCAP) || $(BIN)/launchtap-flood -packets $(BENCH_PACKETS) -o $(FLOOD_PCAP)
	@rm -f $(BIN)/pgo-*.prof
	@for f in $(BENCH_PCAP) $(OFFICE_PCAP) $(FLOOD_PCAP) testdata/demo.pcapng; do \
	  $(BIN)/launchtap replay --workers 1 --alerts /dev/null --log-level warn --cpu-profile $(BIN)/pgo-$$(basename $$f).prof $$f || exit 1; \
	done
	@# Through a temporary file: an empty default.pgo builds without complaint, and without PGO.
	$(GO) tool pprof -proto $(BIN)/pgo-*.prof >$(BIN)/default.pgo.tmp
	@test -s $(BIN)/default.pgo.tmp && mv $(BIN)/default.pgo.tmp cmd/launchtap/default.pgo
	@echo "cmd/launchtap/default.pgo refreshed: rebuild (make build) to use it" >&2

generate: ## regenerate the eBPF objects (needs clang, llvm) and the detector's band table
	$(GO) generate ./bpf/... ./sensor/beacon

package: ## build dist/launchtap_VERSION_ARCH.deb with nfpm (installs nfpm with go install if missing)
	VERSION=$(VERSION) sh deploy/package.sh dist

lint-package: package ## build the .deb and check it with lintian (errors and warnings fail)
	lintian --fail-on error,warning dist/launchtap_$(VERSION)_*.deb

man: build ## write build/launchtap.1 and the bash/zsh/fish completions from the flag definitions
	@mkdir -p build
	$(BIN)/launchtap man >build/launchtap.1
	$(BIN)/launchtap completion bash >build/launchtap.bash
	$(BIN)/launchtap completion zsh >build/_launchtap
	$(BIN)/launchtap completion fish >build/launchtap.fish
	@echo "read it with: man -l build/launchtap.1"

fuzz: ## run each fuzz target for FUZZTIME (default 20s)
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-20s} $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN) dist build

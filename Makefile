# recoup — make targets. `make test` is what CI runs (see .ci/run).
GO        ?= go
PKGS      ?= ./...
BIN       := bin/recoup
SANDBOX   ?= .sandbox
export GOFLAGS ?= -mod=mod

.PHONY: demo all build test test-unit vet fmt-check fuzz bench sandbox-up sandbox-down sandbox-status kafka-fetch clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/recoup

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Unit and integration tests against real MariaDB and a real Kafka broker.
# Needs mariadb-server (apt) and the Kafka jars (make kafka-fetch); .ci/run installs both.
test: fmt-check vet kafka-fetch
	$(GO) test -count=1 -timeout 28m $(PKGS)

# Only the packages that need no server.
test-unit:
	$(GO) test -count=1 ./repl/... ./conflict/... ./capture/...

# A short run of every fuzzer (the committed corpora also run in `make test`).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Benchmarks print figures; they assert nothing about time. Benchmarks that
# build a whole topology per iteration run once (-benchtime=1x).
bench: kafka-fetch
	$(GO) test -run='^$$' -bench=. -benchmem -timeout 30m ./repl/... ./conflict/... ./capture/... ./hook/route/...
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=1x -timeout 30m ./streamer/... ./applier/... ./test/e2e/...
	$(GO) run ./test/bench capture $(BENCHFLAGS)

# A MariaDB primary + 2 replicas on 127.0.0.1 that outlives the command.
sandbox-up:
	$(GO) run ./test/sandbox/cmd/sandboxctl up -replicas 2 -dir $(SANDBOX)

sandbox-down:
	$(GO) run ./test/sandbox/cmd/sandboxctl down -dir $(SANDBOX)

sandbox-status:
	$(GO) run ./test/sandbox/cmd/sandboxctl status -dir $(SANDBOX)

# Apache Kafka 4.x broker jars from Maven Central into a cache outside the repo.
kafka-fetch:
	test/kafka/kafka.sh fetch

clean:
	rm -rf bin

# The README's main-job command: capture on the embedded local store, end to end.
demo: build
	$(GO) run ./test/demo -recoup $(BIN)

# streamgate build and test entry points. `make test` is what CI runs (through .ci/run).
GO ?= go
BENCHTIME ?= 1s
FUZZTIME ?= 30s

.PHONY: test vet unit bench build fuzz run

test: vet unit

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

# Benchmarks of the main module, then the parser comparison in the separate bench/ module.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
	cd bench && $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) .

# Runs every fuzz target for FUZZTIME; new crashers land in the package's testdata/fuzz.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

build:
	$(GO) build -o bin/ ./cmd/...

run:
	$(GO) run ./cmd/streamgate

# streamgate build and test entry points. `make test` is what CI runs (through .ci/run).
GO ?= go
BENCHTIME ?= 1s

.PHONY: test vet unit bench build fuzz run

test: vet unit

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

build:
	$(GO) build -o bin/ ./cmd/...

run:
	$(GO) run ./cmd/streamgate

# streamgate build and test entry points. `make test` is what CI runs (through .ci/run).
GO ?= go
BENCHTIME ?= 1s
FUZZTIME ?= 30s

.PHONY: test deps vet unit bench build fuzz run

test: deps vet unit

# deps installs what the tests need beyond Go and its modules, from Debian packages when this
# machine has apt-get and runs as root: Chromium, for gateway's browser EventSource test, and
# redis-server (Redis >= 7), which cluster's tests start on a free loopback port. Elsewhere install
# them yourself; without them those tests skip. With npm on the PATH it also installs the official
# JavaScript SDKs that gateway's sdk_npm_test.go drives, pinned by $(SDK_JS)/package-lock.json.
SDK_JS := gateway/testdata/sdk-js

deps:
	@if command -v npm >/dev/null; then \
	  $(MAKE) -s --no-print-directory $(SDK_JS)/node_modules/.package-lock.json; \
	else echo "npm is not installed: gateway's JavaScript SDK tests will skip"; fi
	@command -v chromium >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } || \
	  echo "chromium is not installed: gateway's TestBrowserEventSource will skip"
	@command -v redis-server >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server; } || \
	  echo "redis-server is not installed: the cluster tests (cluster/, cmd/streamgate's TestCluster...) will skip"

# npm ci installs exactly the lockfile; it reruns only when the lockfile changes. The SDKs need
# none of their install scripts.
$(SDK_JS)/node_modules/.package-lock.json: $(SDK_JS)/package-lock.json $(SDK_JS)/package.json
	cd $(SDK_JS) && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

vet:
	$(GO) vet ./...

# unit runs every test under the race detector, then the tests that measure goroutine stacks
# without it (the race detector changes every frame): gateway's stack_norace_test.go.
unit:
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run '^TestOpenGeminiStreamStack$$' ./gateway

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

# proto regenerates plugins/internal/pluginpb from plugins/proto with Debian's protoc
# (apt-get install protobuf-compiler) and pinned generators installed into bin/tools.
# protoc-gen-go's version must equal go.mod's google.golang.org/protobuf.
.PHONY: proto
proto:
	GOBIN=$(CURDIR)/bin/tools $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	GOBIN=$(CURDIR)/bin/tools $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.1
	rm -f plugins/internal/pluginpb/*.pb.go
	protoc -I plugins/proto \
		--plugin=protoc-gen-go=$(CURDIR)/bin/tools/protoc-gen-go \
		--plugin=protoc-gen-go-grpc=$(CURDIR)/bin/tools/protoc-gen-go-grpc \
		--go_out=. --go_opt=module=github.com/streamgate/streamgate \
		--go-grpc_out=. --go-grpc_opt=module=github.com/streamgate/streamgate \
		plugins/proto/streamgate/plugin/v1/*.proto

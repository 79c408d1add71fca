# Atalaya's tasks. CI (.ci/run) calls `make test`, the same command the README gives.
GO       ?= go
PKGS     ?= ./...
FUZZTIME ?= 30s
BENCHTIME ?= 1s

.PHONY: all build test lint unit bench fuzz demo clean tools

all: build

build:
	$(GO) build -o bin/atalaya ./cmd/atalaya

## test: everything CI checks — formatting, vet, staticcheck, race tests, pure-Go kernels
test:
	./scripts/test.sh

lint: tools
	./scripts/lint.sh

unit:
	$(GO) test -race $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./internal/...
	$(GO) run ./cmd/atalaya bench

## fuzz: each fuzz target for FUZZTIME
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

demo:
	$(GO) run ./cmd/atalaya demo

tools:
	./scripts/tools.sh

clean:
	rm -rf bin out

# Taskwright's two commands. Both install what is missing first and can be
# run again without harm.
#
#   make run    build in release mode and start the server on 127.0.0.1:3000
#   make test   formatting, clippy (ssr and hydrate), every Rust test and the
#               Playwright suite against a freshly started server
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/.tools/npm/bin:$(CURDIR)/.tools/venv/bin:$(PATH)

.PHONY: run test build bench

run:
	@scripts/setup.sh run
	cargo leptos build --release
	TASKWRIGHT_UV=$${TASKWRIGHT_UV:-$(CURDIR)/.tools/venv/bin/uv} \
	TASKWRIGHT_SITE_ROOT=$${TASKWRIGHT_SITE_ROOT:-$(CURDIR)/target/site} \
	  target/release/taskwright

test:
	@scripts/test.sh

build:
	@scripts/setup.sh run
	cargo leptos build --release

bench:
	@scripts/setup.sh run
	cargo run --release -p server --example bench

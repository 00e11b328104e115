# daemontools in TypeScript on Deno. `make test` and `make demo` work on a fresh machine:
# when `deno` is not on PATH the pinned Deno is installed from the npm registry into .tools/.
DENO_VERSION := 2.9.6
PREFIX ?= /usr/local
TOOLS := $(CURDIR)/.tools
LOCAL_DENO := $(TOOLS)/deno/node_modules/@deno/linux-x64-glibc/deno
DENO ?= $(shell command -v deno 2>/dev/null || echo $(LOCAL_DENO))
# npm must trust the system CA bundle (the registry may be reached through a TLS proxy)
SYSTEM_CA := $(firstword $(wildcard /etc/ssl/certs/ca-certificates.crt))

.PHONY: all deno build install test demo check lint fmt bench clean

all: build

deno: $(DENO)

$(LOCAL_DENO):
	@echo "deno not found on PATH: installing deno@$(DENO_VERSION) from npm into .tools/deno"
	mkdir -p $(TOOLS)/deno
	cd $(TOOLS)/deno && NODE_EXTRA_CA_CERTS=$${NODE_EXTRA_CA_CERTS:-$(SYSTEM_CA)} npm install --no-save --no-package-lock --no-audit --no-fund \
		--ignore-scripts --prefix . deno@$(DENO_VERSION) >/dev/null
	@$(LOCAL_DENO) --version | head -n 1

# One binary when a runtime base (denort) is at hand, else a one-file launcher.
build: $(DENO)
	@DENO="$(DENO)" sh scripts/build.sh build/bin "$(CURDIR)"

install: $(DENO)
	@DENO="$(DENO)" sh scripts/install.sh "$(DESTDIR)$(PREFIX)" "$(CURDIR)"

test: $(DENO)
	$(DENO) task test

demo: build
	sh scripts/demo.sh build/bin

check: $(DENO)
	$(DENO) task check

lint: $(DENO)
	$(DENO) lint

fmt: $(DENO)
	$(DENO) fmt

bench: build
	$(DENO) task bench

clean:
	rm -rf build bench/out

# Debian package (docs/packaging.md): build/deb/daemontools-deno_VERSION_ARCH.deb, offline
# given Deno (the pinned one is installed as for `make test` when none is on PATH).
DEBDIR ?= build/deb

.PHONY: man deb deb-check

man:
	sh scripts/man.sh build/man "$(CURDIR)"

deb: $(DENO)
	@DENO="$(DENO)" sh scripts/deb.sh "$(DEBDIR)" "$(CURDIR)"

# the package, lintian (no error), and an install into a scratch root with checks
deb-check: deb
	sh scripts/deb-check.sh "$(DEBDIR)" "$(CURDIR)"

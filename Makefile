# graft — common tasks. `make test` is what CI runs (through .ci/run).
.PHONY: all build lint typecheck gen verify test bench assets image clean demo

all: build

node_modules: package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules

build: node_modules
	npm run build

lint: node_modules
	npm run lint

typecheck: node_modules
	npm run typecheck

gen: node_modules
	npm run gen

# Regenerates everything generated and fails when the tree was stale.
verify: node_modules
	npm run gen:check

# Builds (once) the control-plane binaries the tests use, cached in ~/.cache/graft.
assets:
	sh e2e/assets/build-k8s.sh

# graft's container image from the Dockerfile, built with Debian's buildah (root; no daemon, nothing pulled): prints
# the docker-archive tarball (`docker load -i`, `ctr images import`, `skopeo copy docker-archive:...`). IMAGE=<ref>
# names it (default ghcr.io/graft-operators/graft:<version>).
image:
	sh e2e/assets/build-image.sh

# Sets itself up first (e2e/setup.mjs), as CI does.
test:
	npm test

bench: node_modules
	npm run bench

clean:
	rm -rf dist

# Runs graft locally on the embedded default: installs what is missing, then starts everything (Ctrl-C stops it).
# As root on Linux in Pods on a real node (e2e/demo-real-node.ts); elsewhere, or with GRAFT_DEMO_MODE=process, as
# processes against two API servers.
demo:
	node e2e/setup.mjs demo e2e/demo.ts

# syntax=docker/dockerfile:1
# graft: one image for every component; `graft <component>` is the entrypoint, e.g.
#   docker build -t graft:dev .
#   docker run --rm graft:dev cluster-manager --help
# Checked by e2e/deploy/dockerfile-lint.ts (dockerfile-utils' validation plus graft's own image rules; see that file).

ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# ---- build: compile the TypeScript, then drop the development dependencies -----------------------------------
FROM ${NODE_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
# The `kerberos` addon (GSSAPI, for Negotiate logins) is compiled here by node-gyp: a C++ toolchain and MIT Kerberos'
# headers; Node's own headers are the Node installation's (/usr/local/include/node: in the official image, and
# mounted there for the build by e2e/assets/build-image.sh), so nothing is downloaded beside the npm packages, and
# the addon is built from source rather than fetched prebuilt.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 libkrb5-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm_config_nodedir=/usr/local npm_config_build_from_source=true npm ci --no-audit --no-fund \
 && rm -rf node_modules/kerberos/build/Release/obj.target node_modules/kerberos/build/Release/.deps
COPY tsconfig.json tsconfig.build.json ./
COPY operators/ ./operators/
# `npm run build` with one difference: only the CLI and the modules it imports are compiled, so helpers that only
# tests use (test-support.ts, testing/) and the e2e harness they import stay out of the image.
RUN printf '{"extends": "./tsconfig.build.json", "include": [], "files": ["operators/cli/main.ts"]}\n' > tsconfig.image.json \
 && npx tsc -p tsconfig.image.json \
 && npm prune --omit=dev --no-audit --no-fund \
 && chmod 0755 dist/operators/cli/main.js

# ---- runtime: Node, git (repositories, git http-backend), MIT Kerberos clients (kadmin, kinit, ktutil) and the ---
# ---- GSSAPI library the `kerberos` addon links to ---------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG DEBIAN_FRONTEND=noninteractive
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Nothing is built or installed at run time: the package lists go, and so do the npm, npx, corepack and yarn that
# the Node image bundles. The runtime user owns no file of the image.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git krb5-user libgssapi-krb5-2 \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-* \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg \
 && groupadd --system --gid 65532 graft \
 && useradd --system --uid 65532 --gid graft --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin graft

WORKDIR /app
COPY --from=build --chown=root:root /src/package.json ./package.json
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
# Runtime files beside the compiled code: the bootstrap driver the cluster-manager embeds in bootstrap scripts,
# the CRDs, the Flux install manifest the bootstrap script carries, and the edge-cluster chart the cluster-manager
# publishes in the shared helm-charts repository.
COPY --chown=root:root operators/bootstrap/driver.sh ./operators/bootstrap/driver.sh
COPY --chown=root:root crds/ ./crds/
COPY --chown=root:root config/flux/install.yaml ./config/flux/install.yaml
COPY --chown=root:root config/flux/releases/ ./config/flux/releases/
COPY --chown=root:root config/edge-cluster/ ./config/edge-cluster/
# The native addon must load against the runtime's libraries (a missing GSSAPI library fails the build, not a login).
RUN node -e "require('/app/node_modules/kerberos')" \
 && ln -s /app/dist/operators/cli/main.js /usr/local/bin/graft

ENV NODE_ENV=production \
    FLUX_INSTALL_MANIFEST=/app/config/flux/install.yaml \
    FLUX_RELEASES_DIR=/app/config/flux/releases \
    CHART_DIR=/app/config/edge-cluster \
    HOME=/tmp
USER 65532:65532
ENTRYPOINT ["graft"]
CMD ["--help"]

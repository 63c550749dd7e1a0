import assert from "node:assert/strict";
import { test } from "node:test";
import { dockerignoreFilter } from "./docker-context.js";
import { imageParts, lintDockerfile } from "./dockerfile-lint.js";
import { parseDockerfile } from "./dockerfile.js";

const codes = (text: string) => lintDockerfile(text).map((f) => `${f.line}:${f.code}`);

test("a careful multi-stage Dockerfile has no findings", () => {
  assert.deepEqual(codes(`# syntax=docker/dockerfile:1
ARG BASE=debian:12.7-slim
FROM \${BASE} AS build
WORKDIR /src
RUN echo build > out
FROM \${BASE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \\
 && apt-get install -y --no-install-recommends git \\
 && rm -rf /var/lib/apt/lists/*
COPY --from=build --chown=root:root /src/out /app/out
USER 65532:65532
ENTRYPOINT ["/app/run"]
`), []);
});

test("each rule reports the line it applies to", () => {
  assert.deepEqual(codes(`FROM node:latest
FROM debian AS x
FROM node:lts-slim AS x
RUN apt-get update && apt-get install gcc | tee log
WORKDIR app
CMD node server.js
RUN npm install && chown -R app /app
ADD local.txt /x
COPY --from=nowhere /a /b
USER root
`), [
    "1:DL3007", "2:DL3006", "3:GL001", "3:DL3024",
    "4:DL3014", "4:DL3015", "4:DL3009", "4:DL4006", "4:GL003",
    "5:DL3000", "6:DL3025", "7:DL3016", "7:GL004", "7:GL003", "8:DL3020", "9:DL3022", "10:DL3002",
  ]);
});

test("a final stage without USER runs as root", () => {
  assert.deepEqual(codes("FROM debian:12-slim AS build\nFROM debian:12-slim\nCMD [\"true\"]\n"), ["2:GL002"]);
});

test("files handed to the runtime user are reported, root-owned ones are not", () => {
  const text = (chown: string) => `FROM debian:12-slim\nCOPY --chown=${chown} app /app\nUSER 10001:10001\n`;
  assert.deepEqual(codes(text("10001:10001")), ["2:GL005"]);
  assert.deepEqual(codes(text("root:root")), []);
});

test("# hadolint ignore= switches a rule off for the next instruction only", () => {
  const text = `FROM debian:12-slim
# hadolint ignore=DL3015
RUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*
RUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*
USER 1000
`;
  assert.deepEqual(codes(text), ["4:DL3015"]);
});

test("digests pin an image; a registry port is not a tag", () => {
  assert.deepEqual(imageParts("registry.local:5000/team/app"), { name: "registry.local:5000/team/app" });
  assert.deepEqual(imageParts("registry.local:5000/app:1.2@sha256:abc"), { name: "registry.local:5000/app", tag: "1.2", digest: "sha256:abc" });
  assert.deepEqual(codes("FROM registry.local:5000/app@sha256:abc\nUSER 1\n"), []);
  assert.deepEqual(codes("FROM registry.local:5000/app\nUSER 1\n"), ["1:DL3006"]);
});

test("continuation lines and comments inside them make one instruction", () => {
  const file = parseDockerfile("FROM a:1\nRUN one \\\n# note\n  two \\\n  three\nUSER 1\n");
  assert.deepEqual(file.instructions.map((i) => [i.line, i.keyword, i.args]), [
    [1, "FROM", "a:1"], [2, "RUN", "one two three"], [6, "USER", "1"],
  ]);
});

test(".dockerignore: last match wins, `!` re-includes, a directory pattern covers its contents, ** spans folders", () => {
  const admitted = dockerignoreFilter("*\n!src/\nsrc/**/*.test.ts\nsrc/**/testing/\n!src/keep/testing/x.ts\n");
  assert.equal(admitted("README.md"), false);
  assert.equal(admitted("src/a.ts"), true);
  assert.equal(admitted("src/deep/er/b.test.ts"), false);
  assert.equal(admitted("src/c.test.ts"), false);
  assert.equal(admitted("src/m/testing/helper.ts"), false);
  assert.equal(admitted("src/keep/testing/x.ts"), true);
  assert.equal(admitted("srcx/a.ts"), false);
});

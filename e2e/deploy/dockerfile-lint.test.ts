// The Dockerfile check: dockerfile-utils' findings under their ValidationCode names, and graft's own GL rules.
import assert from "node:assert/strict";
import { test } from "node:test";
import { dockerignoreFilter } from "./docker-context.js";
import { imageParts, lintDockerfile, readDockerfile } from "./dockerfile-lint.js";

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

test("each rule reports the line it applies to, dockerfile-utils' findings among them", () => {
  assert.deepEqual(codes(`FROM node:latest
FROM debian AS x
FROM node:lts-slim AS x
RUN apt-get update && apt-get install -y gcc
WORKDIR app
RUN npm install && chown -R app /app
ENTRYPOINT node server.js
USER root
`), [
    "1:GL001", "2:DUPLICATE_BUILD_STAGE_NAME", "2:GL001", "3:DUPLICATE_BUILD_STAGE_NAME", "3:GL001",
    "4:GL006", "4:GL006", "4:GL003", "5:WORKDIR_IS_NOT_ABSOLUTE", "6:GL007", "6:GL004", "6:GL003", "7:GL008", "8:GL002",
  ]);
});

test("a base image from an ARG without a default cannot be pinned", () => {
  assert.deepEqual(codes("ARG BASE\nFROM ${BASE}\nUSER 1\n"), ["2:GL001"]);
});

test("a final stage without USER runs as root", () => {
  assert.deepEqual(codes("FROM debian:12-slim AS build\nFROM debian:12-slim\nCMD [\"true\"]\n"), ["2:GL002"]);
});

test("files handed to the runtime user are reported, root-owned ones are not", () => {
  const text = (chown: string) => `FROM debian:12-slim\nCOPY --chown=${chown} app /app\nUSER 10001:10001\n`;
  assert.deepEqual(codes(text("10001:10001")), ["2:GL005"]);
  assert.deepEqual(codes(text("root:root")), []);
});

test("digests pin an image; a registry port is not a tag", () => {
  assert.deepEqual(imageParts("registry.local:5000/team/app"), { name: "registry.local:5000/team/app" });
  assert.deepEqual(imageParts("registry.local:5000/app:1.2@sha256:abc"), { name: "registry.local:5000/app", tag: "1.2", digest: "sha256:abc" });
  assert.deepEqual(codes("FROM registry.local:5000/app@sha256:abc\nUSER 1\n"), []);
  assert.deepEqual(codes("FROM registry.local:5000/app\nUSER 1\n"), ["1:GL001"]);
});

test("instructions keep their first line and stage; continuations and the comments inside them are joined", () => {
  const file = readDockerfile("ARG A=1\nFROM a:1\nRUN one \\\n# note\n  two \\\n  three\nCOPY --from=x /a /b\nUSER 1\n");
  assert.deepEqual(file.instructions.map((i) => [i.line, i.stage, i.keyword, i.args]), [
    [1, -1, "ARG", "A=1"], [2, 0, "FROM", "a:1"], [3, 0, "RUN", "one two three"], [7, 0, "COPY", "/a /b"], [8, 0, "USER", "1"],
  ]);
  assert.deepEqual(file.instructions[3]!.flags, { from: "x" });
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

import assert from "node:assert/strict";
import { startAcsStandin, type AcsStandin, type AcsStandinOptions } from "./standin.js";
import { atFileEnd } from "../support/api-server.js";
import { AcsHttpError } from "../../operators/acs/errors.js";
import { eventually } from "../harness/eventually.js";
import { AcsConnection, type AcsConnectionOptions } from "../../operators/acs/discovery.js";

/** Test helpers: a stand-in ACS and a connection to it as its admin user (URLs preset, no Directory lookups). */

export interface StandinFixture {
  standin: AcsStandin;
  acs: AcsConnection;
}

export async function startStandinFixture(
  options: AcsStandinOptions = {},
  client: AcsConnectionOptions["client"] = {},
): Promise<StandinFixture> {
  const standin = await startAcsStandin(options);
  const acs = new AcsConnection({
    credentials: { username: standin.adminUser.username, password: standin.adminUser.password },
    urls: { directory: standin.urls.directory, configdb: standin.urls.configdb, auth: standin.urls.auth, git: standin.urls.git },
    client,
  });
  return { standin, acs };
}

/** Waits for an event matching the predicate among those recorded from index `from` on. */
export function nextEvent<E>(events: E[], predicate: (e: E) => boolean, from = 0): Promise<E> {
  return eventually(() => events.slice(from).find(predicate), { timeoutMs: 10_000, message: "expected notify event" });
}

/** The fixture all tests of the calling file share, started now (`await` it at top level), stopped at the file's end. */
export async function standinFixtureForFile(options: AcsStandinOptions = {}): Promise<StandinFixture> {
  const fixture = await startStandinFixture(options);
  atFileEnd(() => fixture.standin.stop());
  return fixture;
}

/** Expects the promise to reject with an ACS service's answer of exactly this status; returns that error. */
export async function rejectsWithStatus(promise: Promise<unknown>, status: number): Promise<AcsHttpError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  assert.ok(err instanceof AcsHttpError, `expected AcsHttpError ${status}, got ${String(err)}`);
  assert.equal(err.status, status, err.message);
  return err;
}

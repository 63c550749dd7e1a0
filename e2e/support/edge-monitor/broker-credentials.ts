// Throwaway TLS material (openssl CLI) and a Mosquitto password file (mosquitto_passwd) for broker tests.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A CA and a server certificate it signed, valid for 127.0.0.1 and localhost. */
export function makeTestTls(dir: string): TestTls {
  const p = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "1", "-subj", "/CN=graft test CA");
  openssl("req", ...ec, "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=localhost");
  writeFileSync(p("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
    "-out", p("server.crt"), "-days", "1", "-extfile", p("san.ext"));
  return { caFile: p("ca.crt"), certFile: p("server.crt"), keyFile: p("server.key") };
}

/** A Mosquitto password file with one user. */
export function makePasswordFile(dir: string, username: string, password: string): string {
  const file = join(dir, "passwd");
  execFileSync("mosquitto_passwd", ["-c", "-b", file, username, password], { stdio: ["ignore", "ignore", "pipe"] });
  return file;
}

// The one password generator for Kerberos principals (krbkeys' Password keys and enrolment's Flux account).
import { randomBytes } from "node:crypto";

/** 32 characters with lower case, upper case and digits, so common KDC password policies accept it. */
export function generatePassword(): string {
  for (;;) {
    const pw = randomBytes(24).toString("base64url");
    if (/[a-z]/.test(pw) && /[A-Z]/.test(pw) && /[0-9]/.test(pw)) return pw;
  }
}

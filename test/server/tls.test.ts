/**
 * Goal: TLS files that cannot be used are refused when the server starts, naming the files:
 * a file that is not PEM, a key that does not belong to the certificate, a missing file.
 * Method: loadTlsOptions on throwaway certificates (openssl, test/support/tls-certs.ts).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DbError } from "../../src/lib/errors.ts";
import { loadTlsOptions } from "../../src/server/tls.ts";
import { makeTestCerts } from "../support/tls-certs.ts";
import type { TestCerts } from "../support/tls-certs.ts";

let certs: TestCerts;
before(() => (certs = makeTestCerts()));
after(() => certs.remove());

function refusedWith(pattern: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof DbError && error.code === "INVALID_ARGUMENT" && pattern.test(error.message);
}

test("usable files load; unusable ones are refused naming them", () => {
  const options = loadTlsOptions({ cert: certs.serverCert, key: certs.serverKey });
  assert.ok(options.cert !== undefined && options.key !== undefined);
  const garbage = join(certs.dir, "garbage.pem");
  writeFileSync(garbage, "not a certificate\n");
  assert.throws(
    () => loadTlsOptions({ cert: garbage, key: certs.serverKey }),
    refusedWith(new RegExp(`^tls: the certificate, key or CA \\(${garbage}, .*cannot be used`)),
  );
  assert.throws(
    () => loadTlsOptions({ cert: certs.serverCert, key: certs.strangerKey }),
    refusedWith(/cannot be used: .*key values mismatch/),
  );
  assert.throws(
    () => loadTlsOptions({ cert: join(certs.dir, "missing.pem"), key: certs.serverKey }),
    refusedWith(/^tls\.cert: cannot read .*missing\.pem \(ENOENT\)/),
  );
});

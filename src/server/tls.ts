/**
 * @module TLS configuration shared by every listener: certificate, key and an optional client
 * CA (mutual TLS) given as file paths, loaded into node:tls options with an error that names
 * the file and the option when one cannot be read.
 */
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import type { SecureContextOptions, TlsOptions } from "node:tls";
import { DbError } from "../lib/errors.ts";

/** TLS for a listener: PEM file paths. With `ca`, clients may present a certificate. */
export interface TlsConfig {
  cert: string;
  key: string;
  /** CA bundle that client certificates must chain to (mutual TLS). */
  ca?: string;
  /** Refuse clients without a valid certificate (needs `ca`). */
  requireClientCert?: boolean;
}

/** Server options for node:tls built from a {@link TlsConfig}; files are read now. */
export function loadTlsOptions(config: TlsConfig): SecureContextOptions & TlsOptions {
  if (config.requireClientCert === true && config.ca === undefined) {
    throw new DbError("INVALID_ARGUMENT", "tls.requireClientCert needs tls.ca (the client CA)", {
      option: "tls.ca",
    });
  }
  const options: SecureContextOptions & TlsOptions = {
    cert: readPem(config.cert, "tls.cert"),
    key: readPem(config.key, "tls.key"),
  };
  if (config.ca !== undefined) {
    options.ca = readPem(config.ca, "tls.ca");
    // Ask for a client certificate whenever a client CA is configured; refuse clients
    // without one only when required, so mixed deployments can migrate gradually.
    options.requestCert = true;
    options.rejectUnauthorized = config.requireClientCert === true;
  }
  checkSecureContext(options, config);
  return options;
}

/**
 * Builds the secure context once, so that a file that is not what it should be (not PEM, a
 * key that does not match the certificate) is refused at start, naming the files.
 */
function checkSecureContext(options: SecureContextOptions, config: TlsConfig): void {
  try {
    createSecureContext(options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const files = [config.cert, config.key, ...(config.ca === undefined ? [] : [config.ca])];
    throw new DbError(
      "INVALID_ARGUMENT",
      `tls: the certificate, key or CA (${files.join(", ")}) cannot be used: ${reason}`,
      { option: "tls" },
    );
  }
}

/** Reads one PEM file, naming the option and the path when it cannot. */
export function readPem(path: string, option: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new DbError("INVALID_ARGUMENT", `${option}: cannot read ${path} (${reason})`, {
      option,
      value: path,
    });
  }
}

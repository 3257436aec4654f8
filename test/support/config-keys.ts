/**
 * Every key the server's config accepts, as dotted paths (`limits.requestTimeoutMs`, and
 * `auth.tokens.role` for the fields of a list's entries), read from the schema itself so that
 * a key added there is one the help and docs tests then ask for.
 */
import { configSchema } from "../../src/server/config.ts";

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

export function configKeyPaths(): string[] {
  const paths: string[] = [];
  const walk = (node: SchemaNode, prefix: string): void => {
    const inner = node.items ?? node;
    for (const [key, child] of Object.entries(inner.properties ?? {})) {
      const path = prefix === "" ? key : `${prefix}.${key}`;
      paths.push(path);
      walk(child, path);
    }
  };
  walk(configSchema as SchemaNode, "");
  return paths;
}

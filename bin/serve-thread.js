// The thread `statebase serve` runs its server on (src/cli/commands/serve.ts explains why). Like
// bin/statebase.js, it runs the TypeScript sources through tsx: a worker registers its own.
import { register } from "tsx/esm/api";

register();
await import("../src/server/serve-thread.ts");

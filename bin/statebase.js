#!/usr/bin/env node
// The `statebase` command. It runs the TypeScript sources through tsx (a runtime dependency),
// so `npx statebase …` works right after `npm ci`, without a build step.
import process from "node:process";
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
// Setting exitCode rather than calling process.exit lets a long output reach a pipe in full.
process.exitCode = await main(process.argv);

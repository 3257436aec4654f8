/**
 * @module `watch-instance` and `watch-all`: subscribe over RCP and print one JSON event per
 * line until Ctrl-C (then UNWATCH, as rstmdb-cli does), until `--count` events, or until the
 * server ends the subscription (printed as its JSON line; exit code 1, except for a
 * `watch-instance` whose instance was deleted: it saw all there will be, exit code 0).
 * `--from-offset` resumes after an offset without gaps (decision 10).
 */
import type { Command } from "commander";
import type { RcpClient, RcpStreamMessage } from "../../protocol/index.ts";
import { exitCodeFailed, parsePositive, parseSeq } from "../output.ts";
import type { CliContext } from "../output.ts";
import { addConnectionFlags } from "./rcp-connection.ts";
import type { ConnectionFlags } from "./rcp-connection.ts";
import { withClient } from "./rcp-commands.ts";

interface WatchFlags extends ConnectionFlags {
  ctx: boolean;
  fromOffset?: number;
  lifecycle?: boolean;
  count?: number;
  machines?: string;
  fromStates?: string;
  toStates?: string;
  events?: string;
}

const list = (text: string | undefined): string[] | undefined =>
  text === undefined ? undefined : text.split(",").filter((item) => item !== "");

function addWatchFlags(command: Command): Command {
  return addConnectionFlags(command)
    .option("--no-ctx", "leave the context out of events")
    .option("--from-offset <offset>", "first replay history after this offset", parseSeq)
    .option("--lifecycle", "also report instance creation and deletion")
    .option("--count <n>", "exit after N events", parsePositive);
}

/** Adds `watch-instance` and `watch-all`. */
export function watchCommand(program: Command, context: CliContext): void {
  const one = addWatchFlags(
    program
      .command("watch-instance")
      .description("print one instance's events as JSON lines until Ctrl-C")
      .argument("<id>", "instance id"),
  ).action(async (id: string) => {
    const flags = one.opts<WatchFlags>();
    context.exitCode = await watch(context, flags, "WATCH_INSTANCE", { instance_id: id });
  });
  const all = addWatchFlags(
    program
      .command("watch-all")
      .description("print every matching event as JSON lines until Ctrl-C")
      .option("--machines <list>", "only these machines (comma-separated)")
      .option("--from-states <list>", "only transitions from these states")
      .option("--to-states <list>", "only transitions to these states")
      .option("--events <list>", "only these events"),
  ).action(async () => {
    const flags = all.opts<WatchFlags>();
    context.exitCode = await watch(context, flags, "WATCH_ALL", {
      machines: list(flags.machines),
      from_states: list(flags.fromStates),
      to_states: list(flags.toStates),
      events: list(flags.events),
    });
  });
}

async function watch(
  context: CliContext,
  flags: WatchFlags,
  op: string,
  params: Record<string, unknown>,
): Promise<number> {
  let failed = false;
  const code = await withClient(context, flags, async (client) => {
    const request = {
      ...params,
      include_ctx: flags.ctx,
      ...(flags.fromOffset === undefined ? {} : { from_offset: flags.fromOffset }),
      ...(flags.lifecycle === true ? { include_lifecycle: true } : {}),
    };
    const ended = await stream(context, client, flags.count, async () => {
      const result = await client.request<{ subscription_id: string }>(op, request);
      return result.subscription_id;
    });
    // A lost connection is said: an `end` message explains itself, silence does not.
    if (ended === "closed") {
      context.warn(`the connection to ${flags.server} closed before the subscription ended`);
    }
    failed = ended !== "here" && ended !== "complete";
  });
  return failed ? exitCodeFailed : code;
}

/**
 * Who ended a watch: this side (Ctrl-C, `--count`), the server's `end` (`complete` when its
 * reason is the instance's deletion: nothing more can come), or a lost link.
 */
type WatchEnd = "here" | "complete" | "end" | "closed";

/** Prints events until Ctrl-C, `count` events, an end message or the connection's end. */
async function stream(
  context: CliContext,
  client: RcpClient,
  count: number | undefined,
  subscribe: () => Promise<string>,
): Promise<WatchEnd> {
  let seen = 0;
  let finished = false;
  let stop!: (ended: WatchEnd) => void;
  const stopped = new Promise<WatchEnd>((resolve) => {
    stop = (ended) => {
      if (finished) return;
      finished = true;
      resolve(ended);
    };
  });
  let printing = Promise.resolve();
  client.addStreamListener((message: RcpStreamMessage) => {
    // A replay sends events faster than UNWATCH is answered: those after the end stay unprinted.
    if (finished) return;
    printing = printing.then(() => context.line(JSON.stringify(message)));
    if (message.type === "end") stop(message.reason === "deleted" ? "complete" : "end");
    else if (count !== undefined && ++seen >= count) stop("here");
  });
  const onSignal = (): void => stop("here");
  process.once("SIGINT", onSignal);
  void client.closed.then(() => stop("closed"));
  try {
    const id = await subscribe();
    const ended = await stopped;
    await printing;
    if (ended === "here") await client.request("UNWATCH", { subscription_id: id });
    return ended;
  } finally {
    process.off("SIGINT", onSignal);
  }
}

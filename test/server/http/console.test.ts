/**
 * Goal: the web console at `GET /console` (src/server/http/console-routes.ts and
 * console-page.html) is served as one self-contained page with a strict CSP, needs no token
 * to load while every data request it makes still does, and its script really works: it runs
 * RQL, renders frames as text (never markup), shows errors with their code, and follows a
 * live subscription.
 * Method: the real fastify listener on an ephemeral port over a scripted database
 * (harness.ts). The page's inline script is compiled with node:vm, then run in a vm context
 * with a minimal fake DOM and the real fetch and WebSocket (the `ws` package) pointed at the
 * test server, so a click in the fake DOM becomes a real request to the real endpoints.
 * One more test starts `statebase serve` (server-process.ts) to show the bin finds the page.
 */
/* eslint-disable @typescript-eslint/no-explicit-any --
   the page's globals and wire messages are untyped here; each test asserts what it uses. */
import { test } from "node:test";
import assert from "node:assert/strict";
import vm from "node:vm";
import { WebSocket } from "ws";
import { DbError } from "../../../src/index.ts";
import { hashToken } from "../../../src/server/auth.ts";
import { consoleContentSecurityPolicy } from "../../../src/server/http/console-routes.ts";
import { startServer } from "../../support/server-process.ts";
import { startTestServer } from "../harness.ts";
import type { TestServer } from "../harness.ts";

const readToken = "console-read-secret";
const tokens = [{ sha256: hashToken(readToken), role: "read" as const }];

async function getPage(url: string): Promise<{ response: Response; html: string }> {
  const response = await fetch(`${url}/console`);
  return { response, html: await response.text() };
}

/** The page's one inline script. */
function pageScript(html: string): string {
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 1, "the page has exactly one inline script");
  return scripts[0]![1]!;
}

// ---- A minimal DOM: just what the page's script touches ----

class FakeElement {
  readonly children: FakeElement[] = [];
  parent: FakeElement | undefined;
  value = "";
  disabled = false;
  className = "";
  private text = "";
  private readonly listeners = new Map<string, Array<(event: unknown) => void>>();

  constructor(readonly tagName: string) {}

  get textContent(): string {
    return this.text + this.children.map((child) => child.textContent).join("");
  }
  set textContent(text: string) {
    this.replaceChildren();
    this.text = text;
  }
  get childElementCount(): number {
    return this.children.length;
  }
  get lastChild(): FakeElement | undefined {
    return this.children.at(-1);
  }
  // DOM append and prepend return undefined; so do these, so chaining them fails here too.
  append(...nodes: FakeElement[]): void {
    for (const node of nodes) this.adopt(node, this.children.length);
  }
  prepend(node: FakeElement): void {
    this.adopt(node, 0);
  }
  replaceChildren(...nodes: FakeElement[]): void {
    for (const child of this.children.splice(0)) child.parent = undefined;
    this.text = "";
    this.append(...nodes);
  }
  remove(): void {
    const siblings = this.parent?.children;
    siblings?.splice(siblings.indexOf(this), 1);
    this.parent = undefined;
  }
  addEventListener(type: string, listener: (event: unknown) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  dispatch(type: string, event: object = {}): void {
    const base = { preventDefault: () => undefined, ctrlKey: false, metaKey: false, key: "" };
    for (const listener of this.listeners.get(type) ?? []) listener({ ...base, ...event });
  }
  /** Every descendant with this tag name, in document order. */
  all(tagName: string): FakeElement[] {
    return this.children.flatMap((child) => [
      ...(child.tagName === tagName ? [child] : []),
      ...child.all(tagName),
    ]);
  }
  private adopt(node: FakeElement, index: number): void {
    node.remove();
    node.parent = this;
    this.children.splice(index, 0, node);
  }
}

interface Page {
  byId(id: string): FakeElement;
  storage: Map<string, string>;
}

/** Runs the page's script against `server` with a fake DOM; `stored` seeds sessionStorage. */
function loadPage(server: TestServer, script: string, stored: Record<string, string> = {}): Page {
  const elements = new Map<string, FakeElement>();
  const byId = (id: string): FakeElement => {
    if (!elements.has(id)) elements.set(id, new FakeElement("div"));
    return elements.get(id)!;
  };
  const storage = new Map(Object.entries(stored));
  const context = vm.createContext({
    document: { getElementById: byId, createElement: (tag: string) => new FakeElement(tag) },
    sessionStorage: {
      getItem: (key: string) => storage.get(key) ?? null,
      setItem: (key: string, value: string) => storage.set(key, value),
      removeItem: (key: string) => storage.delete(key),
    },
    location: { protocol: "http:", host: `127.0.0.1:${server.port}` },
    fetch: (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init),
    WebSocket,
    performance,
    // The health check's timer is not needed here and would keep the test process alive.
    setInterval: () => 0,
  });
  new vm.Script(script, { filename: "console-page.html" }).runInContext(context);
  return { byId, storage };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Each table's rows as arrays of cell texts, header first. */
function tablesIn(box: FakeElement): string[][][] {
  return box
    .all("table")
    .map((table) => table.all("tr").map((row) => row.children.map((cell) => cell.textContent)));
}

// ---- Serving ----

test("GET /console serves the page with its CSP, nosniff and every control", async () => {
  const server = await startTestServer();
  try {
    const { response, html } = await getPage(server.url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(
      response.headers.get("content-security-policy"),
      "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline' 'self'; " +
        "connect-src 'self' ws: wss:",
    );
    assert.equal(response.headers.get("content-security-policy"), consoleContentSecurityPolicy);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    for (const id of ["token", "rql", "params", "entry", "run", "result", "health"]) {
      assert.match(html, new RegExp(`id="${id}"`), `the page has #${id}`);
    }
    for (const id of ["live-kind", "live-target", "live-subscribe", "live-stop", "live-deltas"]) {
      assert.match(html, new RegExp(`id="${id}"`), `the page has #${id}`);
    }
    for (const entry of ["query", "command", "admin"]) {
      assert.match(html, new RegExp(`<option value="${entry}">`), `entry ${entry}`);
    }
    assert.doesNotMatch(html, /<script[^>]*\ssrc=|<link\b|https?:\/\//, "nothing is fetched");
  } finally {
    await server.close();
  }
});

test("GET / redirects to /console; other unknown routes still answer JSON 404", async () => {
  const server = await startTestServer();
  try {
    const response = await fetch(`${server.url}/`, { redirect: "manual" });
    assert.equal(response.status, 302);
    assert.equal(response.headers.get("location"), "/console");
    const missing = await fetch(`${server.url}/console/nope`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as any).error.code, "NOT_FOUND");
  } finally {
    await server.close();
  }
});

test("the page's script compiles and never writes server data as HTML", async () => {
  const server = await startTestServer();
  try {
    const script = pageScript((await getPage(server.url)).html);
    assert.doesNotThrow(() => new vm.Script(script, { filename: "console-page.html" }));
    assert.doesNotMatch(script, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  } finally {
    await server.close();
  }
});

test("with auth on, the page loads without a token but /v1/query still refuses one", async () => {
  const server = await startTestServer({ tokens });
  try {
    assert.equal((await getPage(server.url)).response.status, 200);
    const answer = await fetch(`${server.url}/v1/query`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ rql: "from t" }),
    });
    assert.equal(answer.status, 401);
    assert.equal(((await answer.json()) as any).error.code, "UNAUTHORIZED");
    assert.equal(server.db.received.length, 0, "the refused query never reached the database");
  } finally {
    await server.close();
  }
});

// ---- The page's script at work ----

test("the page runs RQL with its token and params and renders values as text", async () => {
  const server = await startTestServer({ tokens });
  try {
    const script = pageScript((await getPage(server.url)).html);
    const hostile = "<img src=x onerror=alert(1)>";
    server.db.answers.set("from t", {
      frames: [[{ id: 1, name: hostile, tags: null }, { id: 2n ** 60n }], []],
    });
    const page = loadPage(server, script);
    const result = page.byId("result");
    await waitFor("the health line", () => page.byId("health").textContent === "serving");

    page.byId("rql").value = "from t";
    page.byId("params").value = '{"x": 1}';
    page.byId("entry").value = "query";
    page.byId("run").dispatch("click");
    await waitFor("the refusal", () => result.textContent.includes("UNAUTHORIZED"));

    page.byId("token").value = readToken;
    page.byId("token").dispatch("input");
    assert.equal(page.storage.get("statebase.console.token"), readToken, "kept for the tab");
    page.byId("rql").dispatch("keydown", { key: "Enter", ctrlKey: true });
    await waitFor("the frames", () => result.all("table").length === 2);
    assert.deepEqual(tablesIn(result), [
      [
        ["id", "name", "tags"],
        ["1", hostile, "null"],
        [(2n ** 60n).toString(), "", ""],
      ],
      [[]],
    ]);
    assert.equal(result.all("img").length, 0, "a value never becomes markup");
    assert.deepEqual(server.db.received.at(-1), {
      entry: "query",
      rql: "from t",
      params: { x: 1 },
    });
  } finally {
    await server.close();
  }
});

test("the page shows errors with their code, and refuses params that are not JSON", async () => {
  const server = await startTestServer();
  try {
    const script = pageScript((await getPage(server.url)).html);
    const page = loadPage(server, script);
    const result = page.byId("result");
    page.byId("rql").value = "frm bad";
    page.byId("entry").value = "command";
    page.byId("run").dispatch("click");
    await waitFor("the error", () => result.textContent.startsWith("RQL_PARSE: cannot parse"));
    assert.deepEqual(server.db.received.at(-1), {
      entry: "command",
      rql: "frm bad",
      params: undefined,
    });

    const received = server.db.received.length;
    page.byId("params").value = "{oops";
    page.byId("run").dispatch("click");
    assert.match(result.textContent, /^INVALID_JSON: params: /);
    assert.equal(server.db.received.length, received, "nothing was sent");
  } finally {
    await server.close();
  }
});

test("the live panel shows the snapshot, then applies deltas and lists their seqs", async () => {
  const server = await startTestServer({ tokens });
  try {
    const script = pageScript((await getPage(server.url)).html);
    server.db.rows.push({ id: 1, name: "ada" }, { id: 2, name: "bob" });
    const page = loadPage(server, script, { "statebase.console.token": readToken });
    const rows = page.byId("live-rows");
    const status = page.byId("live-status");
    page.byId("live-kind").value = "table";
    page.byId("live-target").value = "shop::orders";
    page.byId("live-subscribe").dispatch("click");
    await waitFor("the snapshot", () => rows.all("tr").length === 3);
    assert.match(status.textContent, /^subscribed as console$/);

    server.db.publish([{ op: "insert", key: 3, row: { id: 3, name: "cy" } }]);
    const updated = { id: 1, name: "ada lovelace" };
    server.db.publish([
      { op: "update", key: 1, row: updated, before: { id: 1, name: "ada" } },
      { op: "remove", key: 2, before: { id: 2, name: "bob" } },
    ]);
    await waitFor("the deltas", () => page.byId("live-deltas").childElementCount === 4);
    assert.deepEqual(tablesIn(rows), [
      [
        ["id", "name"],
        ["1", "ada lovelace"],
        ["3", "cy"],
      ],
    ]);
    assert.deepEqual(
      page.byId("live-deltas").children.map((item) => item.textContent),
      ["seq 2: remove 2", "seq 2: update 1", "seq 1: insert 3", "seq 0: snapshot, 2 rows"],
    );

    page.byId("live-stop").dispatch("click");
    assert.match(status.textContent, /^stopped, last seq 2$/);
  } finally {
    await server.close();
  }
});

test("after end: lagged the live panel resumes from its last seq, no gap, no repeat", async () => {
  const server = await startTestServer();
  try {
    const script = pageScript((await getPage(server.url)).html);
    server.db.rows.push({ id: 1, name: "ada" });
    const page = loadPage(server, script);
    const rows = page.byId("live-rows");
    const status = page.byId("live-status");
    const deltas = page.byId("live-deltas");
    page.byId("live-kind").value = "table";
    page.byId("live-target").value = "shop::orders";
    page.byId("live-subscribe").dispatch("click");
    await waitFor("the snapshot", () => rows.all("tr").length === 2);
    server.db.publish([{ op: "insert", key: 2, row: { id: 2, name: "bob" } }]);
    await waitFor("the first delta", () => deltas.childElementCount === 2);
    // The next commit cuts the subscription off (lagged at seq 1); the page resumes from 1.
    server.db.forceLagged = 1;
    server.db.publish([{ op: "insert", key: 3, row: { id: 3, name: "cy" } }]);
    await waitFor("the resumed delta", () => deltas.childElementCount === 3);
    assert.match(status.textContent, /^subscribed as console, resumed, last seq 1$/);
    server.db.publish([{ op: "remove", key: 2, before: { id: 2, name: "bob" } }]);
    await waitFor("a live delta", () => deltas.childElementCount === 4);
    assert.deepEqual(
      deltas.children.map((item) => item.textContent),
      ["seq 3: remove 2", "seq 2: insert 3", "seq 1: insert 2", "seq 0: snapshot, 1 rows"],
    );
    assert.deepEqual(tablesIn(rows), [
      [
        ["id", "name"],
        ["1", "ada"],
        ["3", "cy"],
      ],
    ]);
    page.byId("live-stop").dispatch("click");
    assert.match(status.textContent, /^stopped, last seq 3$/);
  } finally {
    await server.close();
  }
});

test("the live panel gives up after five resumes that bring nothing, and says so", async () => {
  const server = await startTestServer();
  try {
    const script = pageScript((await getPage(server.url)).html);
    const page = loadPage(server, script);
    const status = page.byId("live-status");
    page.byId("live-kind").value = "table";
    page.byId("live-target").value = "shop::orders";
    page.byId("live-subscribe").dispatch("click");
    await waitFor("the snapshot", () => page.byId("live-deltas").childElementCount === 1);
    // Cut off live, then at each of five resumes: the page stops there.
    server.db.forceLagged = 1 + 5;
    server.db.publish([{ op: "insert", key: 1, row: { id: 1 } }]);
    await waitFor("giving up", () => status.textContent.includes("gave up"));
    assert.equal(
      status.textContent,
      "ended: lagged at seq 0; gave up after 5 resumes that brought nothing new. " +
        "Subscribe starts afresh",
    );
    assert.equal(server.db.forceLagged, 0, "five resumes, no sixth");
    assert.equal(page.byId("live-stop").disabled, true);
  } finally {
    await server.close();
  }
});

test("a resume from a seq no longer held starts afresh; another refusal is shown", async () => {
  const server = await startTestServer();
  try {
    const script = pageScript((await getPage(server.url)).html);
    server.db.rows.push({ id: 1, name: "ada" });
    const page = loadPage(server, script);
    const status = page.byId("live-status");
    const deltas = page.byId("live-deltas");
    page.byId("live-kind").value = "table";
    page.byId("live-target").value = "shop::orders";
    page.byId("live-subscribe").dispatch("click");
    await waitFor("the snapshot", () => deltas.childElementCount === 1);
    server.db.resumeError = new DbError("SEQ_NOT_RETAINED", "seq 0 is gone");
    server.db.forceLagged = 1;
    server.db.publish([{ op: "insert", key: 2, row: { id: 2, name: "bob" } }]);
    await waitFor("a fresh snapshot", () => deltas.childElementCount === 2);
    assert.equal(deltas.children[0]!.textContent, "seq 1: snapshot, 1 rows");
    assert.match(status.textContent, /^subscribed as console, resumed/);

    server.db.resumeError = new DbError("INVALID_ARGUMENT", "fromSeq 1 is after the last");
    server.db.forceLagged = 1;
    server.db.publish([{ op: "insert", key: 3, row: { id: 3, name: "cy" } }]);
    await waitFor("the refusal", () => status.textContent.startsWith("could not resume"));
    assert.match(status.textContent, /^could not resume, last seq 1: INVALID_ARGUMENT: fromSeq/);
    page.byId("live-stop").dispatch("click");
  } finally {
    await server.close();
  }
});

test("the live panel shows a refused subscription's error", async () => {
  const server = await startTestServer();
  try {
    const script = pageScript((await getPage(server.url)).html);
    const page = loadPage(server, script);
    page.byId("live-kind").value = "table";
    page.byId("live-target").value = "missing";
    page.byId("live-subscribe").dispatch("click");
    const status = page.byId("live-status");
    await waitFor("the error", () => status.textContent.startsWith("UNKNOWN_OBJECT"));
    page.byId("live-stop").dispatch("click");
  } finally {
    await server.close();
  }
});

test("statebase serve serves the console", async () => {
  const server = await startServer({ args: ["--durability", "memory"] });
  try {
    const url = `http://${server.http.host}:${server.http.port}`;
    const { response, html } = await getPage(url);
    assert.equal(response.status, 200, server.output());
    assert.match(html, /<title>Statebase console<\/title>/);
    const root = await fetch(`${url}/`, { redirect: "manual" });
    assert.equal(root.headers.get("location"), "/console");
  } finally {
    await server.stop();
  }
});

// End to end on the real desktop app (release binary, under Xvfb, through tauri-driver and
// WebKitWebDriver): create two tasks, see a rename in one window reach a second, add a
// dependency, see the refusal when starting too early, run both through their states; add the
// fixture project, ingest it, search it as you type and open a document with its links and
// backlinks; add the provider stub, preview and run a play (streamed, gated, banked), approve the
// asset and export it into the project, pull the kill switch; reach the vault from a chat host
// through the app (`atelier mcp` relays to the app's socket); give a grant in the Grants view and
// see it, revoke it and add a task from the CLI while the app holds the vault (the CLI reaches
// it through the app's socket; the app shows the changes through its change feed); save
// screenshots; then, with the app gone, read the same vault with the CLI.
// Run by scripts/e2e.sh, which sets the env.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session, sleep, windowPng } from "./webdriver.mjs";

const app = need("ATELIER_E2E_APP");
const cli = need("ATELIER_E2E_CLI");
const vault = need("ATELIER_E2E_VAULT");
const out = need("ATELIER_E2E_OUT");
const project = need("ATELIER_E2E_PROJECT");
const stub = need("ATELIER_E2E_STUB");
const driver = process.env.ATELIER_E2E_DRIVER ?? "http://127.0.0.1:4444";

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run this through scripts/e2e.sh`);
  return value;
}

function step(text) {
  process.stderr.write(`e2e: ${text}\n`);
}

const session = await Session.start(driver, {
  "tauri:options": { application: app, args: ["--vault", vault] },
});
let passed = false;
try {
  step("the workbench opens on the vault");
  await session.find("#new-task-title", 60000);

  async function createTask(title, id) {
    await (await session.find("#new-task-title")).type(title);
    await (await session.find("#new-task-create")).click();
    await session.waitForText(`#task-${id} .title`, (t) => t === title);
  }
  const chip = (id) => `#task-${id} .chip[class*="state-"]`;
  async function act(action, id, expectedState) {
    await (await session.find(`button[aria-label="${action} task ${id}"]`)).click();
    await session.waitForText(chip(id), (t) => t === expectedState);
  }

  step("create two tasks");
  await createTask("Outline chapter one", 1);
  await createTask("Draft chapter one", 2);

  step("task 2 waits on task 1");
  await (await session.find("#task-2 details.more summary")).click();
  await (await session.find('select[aria-label="Dependency for task 2"] option[value="1"]')).click();
  await (await session.find('button[aria-label="Add dependency to task 2"]')).click();
  await session.find('button[aria-label="Remove dependency of task 2 on task 1"]');

  step("starting task 2 early is refused beside its row, in the core's words");
  await act("Activate", 2, "active");
  await (await session.find('button[aria-label="Start task 2"]')).click();
  await session.waitForText("#task-2-error", (t) => t.includes("DEPENDENCIES_INCOMPLETE"));
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "refusal.png"), windowPng("Atelier"));

  step("task 1 runs to completion");
  await act("Activate", 1, "active");
  await act("Start", 1, "in progress");
  await act("Complete", 1, "completed");

  step("task 2 runs through block and unblock to completion");
  await act("Start", 2, "in progress");
  await act("Block", 2, "blocked");
  await act("Unblock", 2, "in progress");
  await act("Complete", 2, "completed");

  step("the CSP of the release build is in force (no eval), and IPC worked under it");
  const evalResult = await session.execute(
    'try { new Function("return 1")(); return "eval allowed"; } catch (e) { return e.name; }',
  );
  if (evalResult === "eval allowed") throw new Error("the CSP allows eval");

  const shot = join(out, "workbench.png");
  writeFileSync(shot, windowPng("Atelier"));
  step(`screenshot saved: ${shot}`);

  step("the audit view verifies the chain");
  await (await session.find("#tab-audit")).click();
  await (await session.find("#audit-verify")).click();
  await session.waitForText("#audit-verdict", (t) => t.startsWith("Intact"));
  writeFileSync(join(out, "audit.png"), windowPng("Atelier"));

  step("the roles view in the dark theme at 200 % zoom (a screenshot to look at)");
  await (await session.find("#tab-roles")).click();
  await session.find("article.role");
  await session.execute('document.documentElement.dataset.theme = "dark"; document.documentElement.style.zoom = "2";');
  await sleep(300);
  writeFileSync(join(out, "roles-dark-200.png"), windowPng("Atelier"));
  await session.execute('delete document.documentElement.dataset.theme; document.documentElement.style.zoom = "";');

  step("add the fixture project by its path; it is ingested with progress, then summarized");
  await (await session.find("#tab-projects")).click();
  await (await session.find("#project-path")).type(project);
  await (await session.find("#project-add")).click();
  // Ten notes and one image (map.png, an attachment).
  await session.waitForText('[data-project="novel"] .summary', (t) => t.includes("11 added"), 300000);
  await session.waitForText('[data-project="novel"]', (t) => t.includes("11 documents"));
  writeFileSync(join(out, "projects.png"), windowPng("Atelier"));

  step("search as you type finds the passage, with the word marked");
  await (await session.find("#tab-search")).click();
  // A word only chapter 1 holds: found by words and by meaning, it leads the fused list.
  await (await session.find("#search-query")).type("driftwood");
  await session.waitForText(".hits .hit", (t) => t.includes("chapters/01-storm.md"));
  await session.waitForText(".hits .hit mark", (t) => t.toLowerCase() === "driftwood");
  writeFileSync(join(out, "search.png"), windowPng("Atelier"));

  step("a document shows its links, dangling ones marked, and its backlinks");
  await (await session.find(".hits .hit button.link")).click();
  await session.waitForText("#document-title", (t) => t.startsWith("Chapter 1"));
  await session.waitForText("#document-backlinks", (t) => t.includes("series bible"));
  await (await session.find("#document-backlinks button.link")).click();
  await session.waitForText("#document-links", (t) => t.includes("The Drowned Bell (dangling)"));
  writeFileSync(join(out, "document.png"), windowPng("Atelier"));

  step("an embedded image opens as a document with its facts and a preview");
  const image = await session.execute(
    "return [...document.querySelectorAll('#document-links button.link')].findIndex((b) => b.textContent === 'map.png')",
  );
  if (image < 0) throw new Error("the embed of map.png does not resolve");
  await session.execute("document.querySelectorAll('#document-links button.link')[arguments[0]].click()", [image]);
  await session.waitForText("#document-title", (t) => t === "map");
  await session.waitForText(".document .media", (t) => t === "image/png, 1 × 1 px");
  // The preview is the file's bytes in a data: URL; decoded, the image is 1 pixel wide.
  let loaded = null;
  for (let tries = 0; tries < 50 && loaded !== 1; tries++) {
    loaded = await session.execute(
      "const img = document.querySelector('.document img.preview'); return img && img.complete ? img.naturalWidth : null",
    );
    if (loaded !== 1) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (loaded !== 1) throw new Error(`the preview did not load (natural width ${loaded})`);
  await (await session.find("#document-close")).click();

  step("providers & keys: the built-in providers are listed; add the provider stub");
  await (await session.find("#tab-settings")).click();
  await session.waitForText('table[aria-label="Providers"]', (t) => t.includes("anthropic"));
  await (await session.find("#provider-name")).type("stub");
  await (await session.find("#provider-base-url")).type(stub);
  await (await session.find("#provider-add")).click();
  await session.waitForText('table[aria-label="Providers"]', (t) => t.includes(stub));

  step("the play bench previews the ASSET prompt with token counts, then runs it streaming");
  await (await session.find("#tab-bench")).click();
  await (await session.find('#bench-play option[value="scene_outline"]')).click();
  await (await session.find("#param-scene")).type("Mara keeps the light through the storm");
  await (await session.find("#param-point_of_view")).type("Mara");
  await (await session.find("#bench-model")).type("stub:scene");
  await session.waitForText('article[aria-label="Prompt of step outline"]', (t) => /~\d+ tokens/.test(t) && t.includes("Task"));
  writeFileSync(join(out, "bench-preview.png"), windowPng("Atelier"));
  await (await session.find("#bench-run")).click();
  await session.waitForText('article[aria-label="Output of step outline"]', (t) => t.includes("She lights the oil lamp."), 60000);
  await session.waitForText('article[aria-label="Output of step outline"] ul.gates', (t) => t.includes("✓ required_sections"));
  await session.waitForText("#bench-banked", (t) => t.includes("Banked as asset 1"));
  writeFileSync(join(out, "bench-run.png"), windowPng("Atelier"));

  step("the banked asset is approved and exported into the project");
  await (await session.find("#bench-open-asset")).click();
  await session.waitForText("#asset-title", (t) => t.includes("in review"));
  await (await session.find("#asset-approve")).click();
  await session.waitForText("#asset-title", (t) => t.includes("approved"));
  await (await session.find("#export-path")).type("notes/storm.md");
  await (await session.find("#export-submit")).click();
  await session.waitForText("#export-done", (t) => t.startsWith("Wrote novel/notes/storm.md"));
  const exported = readFileSync(join(project, "notes/storm.md"), "utf8");
  if (!exported.includes("She lights the oil lamp.")) throw new Error(`exported file holds: ${exported}`);
  writeFileSync(join(out, "asset.png"), windowPng("Atelier"));

  step("the kill switch stops runs until it is turned off");
  await (await session.find("#halt")).click();
  await session.waitForText('.kill-switch [role="status"]', (t) => t.includes("Runs stopped by owner"));
  await (await session.find("#resume")).click();
  await session.find("#halt");

  step("a chat host reaches the vault through the open app: atelier mcp relays to its socket");
  const listed = await mcpThroughTheApp("tasks_list", {});
  const titles = listed.items.map((item) => item.data.title);
  if (!titles.includes("Draft chapter one")) throw new Error(`tasks_list said ${JSON.stringify(listed)}`);
  step(`tasks_list over MCP: ${titles.length} tasks, sources like ${listed.items[0].source}`);

  step("the Grants view gives a host tasks_write for a day; the CLI sees it through the app's socket");
  await (await session.find("#tab-grants")).click();
  await (await session.find('#grant-duration option[value="1"]')).click();
  await (await session.find("#grant-give")).click();
  await session.waitForText(".grants tbody tr:last-child", (t) => t.includes("tasks_write") && t.includes("live"));
  const cliJson = (...args) => JSON.parse(execFileSync(cli, ["--vault", vault, "--json", ...args], { encoding: "utf8" }));
  const given = cliJson("grants", "ls").find((g) => g.principal === "mcp:claude-desktop" && g.status === "live");
  if (!given || given.capability !== "tasks_write" || given.expires_at === null) {
    throw new Error(`grants ls through the app said ${JSON.stringify(cliJson("grants", "ls"))}`);
  }

  step("a grant revoked and a task added from a terminal show in the app through the change feed");
  execFileSync(cli, ["--vault", vault, "grants", "revoke", String(given.id)]);
  await session.waitForText(".grants tbody tr:last-child", (t) => t.includes("revoked"));
  writeFileSync(join(out, "grants.png"), windowPng("Atelier"));
  const added = cliJson("tasks", "add", "Asked from a terminal");
  await (await session.find("#tab-tasks")).click();
  await session.waitForText(`#task-${added.id} .title`, (t) => t === "Asked from a terminal");

  step("the plan of a task tree: its critical path, and live states as a terminal moves a task");
  const pilot = cliJson("tasks", "add", "Pilot episode");
  const outline = cliJson("tasks", "add", "Outline the pilot", "--parent", String(pilot.id));
  const draft = cliJson("tasks", "add", "Draft the pilot", "--parent", String(pilot.id), "--depends-on", String(outline.id));
  cliJson("tasks", "add", "Logline", "--parent", String(pilot.id));
  await (await session.find(`button[aria-label="Plan of task ${pilot.id}"]`)).click();
  await session.waitForText('ol[aria-label="Critical path"]', (t) => t.includes("Outline the pilot") && t.includes("Draft the pilot"));
  await session.waitForText("#plan-summary", (t) => t.startsWith("The critical path takes"));
  const planState = (id) =>
    session.execute("return document.getElementById(arguments[0])?.getAttribute('data-state') ?? null", [`plan-node-${id}`]);
  for (const action of ["activate", "start", "complete"]) cliJson("tasks", action, String(outline.id));
  for (let i = 0; (await planState(outline.id)) !== "completed"; i++) {
    if (i > 150) throw new Error(`the plan shows task ${outline.id} as ${await planState(outline.id)}`);
    await sleep(100);
  }
  const critical = await session.execute(
    "return document.getElementById(arguments[0])?.getAttribute('class') ?? ''",
    [`plan-edge-${outline.id}-${draft.id}`],
  );
  if (critical !== "edge critical") throw new Error(`the edge into the draft is "${critical}"`);
  writeFileSync(join(out, "plan.png"), windowPng("Atelier"));

  // Last, because without a window manager the second window covers the first in screenshots.
  step("a second window shows what the first one changes, through the task event");
  const first = await session.currentWindow();
  await (await session.find("#new-window")).click();
  let second;
  for (let i = 0; !second && i < 100; i++) {
    second = (await session.windows()).find((handle) => handle !== first);
    if (!second) await sleep(100);
  }
  if (!second) throw new Error("New window opened no window");
  await session.switchTo(second);
  await session.waitForText("#task-2 .title", (t) => t === "Draft chapter one");
  await session.switchTo(first);
  await (await session.find("#tab-tasks")).click();
  await (await session.find("#task-1 details.more summary")).click();
  await (await session.find('button[aria-label="Rename task 1"]')).click();
  const rename = await session.find('input[aria-label="New title for task 1"]');
  await rename.type(" (v2)\uE007"); // U+E007: the WebDriver Enter key
  await session.switchTo(second);
  await session.waitForText("#task-1 .title", (t) => t === "Outline chapter one (v2)");
  await session.closeWindow();
  await session.switchTo(first);

  passed = true;
} finally {
  if (!passed) {
    try {
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, "failure.png"), windowPng("Atelier"));
    } catch {
      // the window may be gone
    }
  }
  await session.end().catch(() => {});
}

/** One MCP session through `atelier mcp` while the app holds the vault: initialize, then one
 *  tool call; answers its structured content. */
async function mcpThroughTheApp(tool, args) {
  const child = spawn(cli, ["--vault", vault, "mcp"], { stdio: ["pipe", "pipe", "inherit"] });
  const answers = new Map();
  let buffer = "";
  child.stdout.on("data", (chunk) => {
    buffer += chunk;
    for (let end; (end = buffer.indexOf("\n")) >= 0; buffer = buffer.slice(end + 1)) {
      const message = JSON.parse(buffer.slice(0, end));
      if (message.id !== undefined) answers.set(message.id, message);
    }
  });
  const send = (message) => child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", ...message })}\n`);
  const answer = async (id) => {
    for (let i = 0; !answers.has(id); i++) {
      if (i > 100) throw new Error(`atelier mcp did not answer request ${id}`);
      await sleep(100);
    }
    return answers.get(id);
  };
  try {
    send({ id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "e2e-host", version: "1" } } });
    await answer(1);
    send({ method: "notifications/initialized" });
    send({ id: 2, method: "tools/call", params: { name: tool, arguments: args } });
    const reply = await answer(2);
    if (reply.error) throw new Error(`${tool}: ${JSON.stringify(reply.error)}`);
    return reply.result.structuredContent;
  } finally {
    child.stdin.end();
    child.kill();
  }
}

step("with the app closed, the CLI reads the same vault");
async function showTask(id) {
  for (let attempt = 0; ; attempt++) {
    try {
      const json = execFileSync(cli, ["--vault", vault, "--json", "tasks", "show", String(id)], { encoding: "utf8" });
      return JSON.parse(json);
    } catch (err) {
      // The app releases the vault as its process ends; give it a moment.
      if (attempt > 40) throw err;
      await sleep(250);
    }
  }
}
const draft = await showTask(2);
if (draft.state !== "completed" || JSON.stringify(draft.depends_on) !== "[1]") {
  throw new Error(`tasks show 2 says ${JSON.stringify(draft)}`);
}
const hits = JSON.parse(
  execFileSync(cli, ["--vault", vault, "--json", "search", "trawler", "--mode", "text"], { encoding: "utf8" }),
);
if (!hits.some((h) => h.path === "chapters/01-storm.md")) {
  throw new Error(`search trawler says ${JSON.stringify(hits)}`);
}
const outline = await showTask(1);
if (outline.state !== "completed" || outline.title !== "Outline chapter one (v2)") {
  throw new Error(`tasks show 1 says ${JSON.stringify(outline)}`);
}
const asset = JSON.parse(execFileSync(cli, ["--vault", vault, "--json", "assets", "show", "1"], { encoding: "utf8" }));
if (asset.asset.state !== "approved") throw new Error(`asset 1 is ${asset.asset.state}`);
step(`assets show 1: ${asset.asset.state}, ${asset.reviews.length} reviews`);
step(`tasks show 2: state ${draft.state}, depends_on ${JSON.stringify(draft.depends_on)}; task 1: "${outline.title}"`);
step("passed");

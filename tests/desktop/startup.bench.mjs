// Desktop start-up benchmark: Atelier's release app against a Tauri hello-world built with the
// same toolchain and dependencies. Each run starts the app through the same WebDriver path
// (tauri-driver + WebKitWebDriver), times session start to the first interactive element
// (Atelier: the task form, filled from the vault; hello: its heading), lets it idle, and sums
// PSS over the app's process tree (the app and its WebKit web and network processes). Prints
// medians and Atelier/hello ratios. Run by scripts/bench-desktop.sh, which sets the env.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { Session, sleep } from "./webdriver.mjs";

const runs = Number(process.env.ATELIER_BENCH_RUNS ?? 5);
const idleMs = Number(process.env.ATELIER_BENCH_IDLE_MS ?? 3000);
const driver = process.env.ATELIER_E2E_DRIVER ?? "http://127.0.0.1:4444";
const apps = [
  { name: "atelier", path: process.env.ATELIER_BENCH_APP, args: ["--vault", process.env.ATELIER_BENCH_VAULT], ready: "#new-task-title" },
  { name: "hello", path: process.env.ATELIER_BENCH_HELLO, args: [], ready: "#hello" },
];

function children() {
  const byParent = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!byParent.has(ppid)) byParent.set(ppid, []);
      byParent.get(ppid).push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return byParent;
}

function exe(pid) {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return "";
  }
}

/** PSS in KiB summed over the process running `binary` and all its descendants. */
function treePss(binary) {
  const byParent = children();
  const roots = [...byParent.values()].flat().filter((pid) => exe(pid) === binary);
  let total = 0;
  const stack = [...roots];
  while (stack.length) {
    const pid = stack.pop();
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      total += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch {
      // gone
    }
    stack.push(...(byParent.get(pid) ?? []));
  }
  return { kib: total, processes: roots.length };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (const app of apps) {
  if (!app.path) throw new Error(`no binary for ${app.name}; run this through scripts/bench-desktop.sh`);
  results[app.name] = { start: [], pss: [] };
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const session = await Session.start(driver, { "tauri:options": { application: app.path, args: app.args } });
    await session.find(app.ready, 60000);
    const ms = performance.now() - t0;
    await sleep(idleMs);
    const pss = treePss(app.path);
    if (pss.processes === 0) throw new Error(`could not find the ${app.name} process`);
    await session.end();
    await sleep(500);
    results[app.name].start.push(ms);
    results[app.name].pss.push(pss.kib / 1024);
    process.stderr.write(`bench: ${app.name} run ${i + 1}: ${ms.toFixed(0)} ms to interactive, ${(pss.kib / 1024).toFixed(1)} MiB PSS\n`);
  }
}

const a = results.atelier;
const h = results.hello;
const row = (label, x, y, unit) =>
  `${label.padEnd(28)} ${median(x).toFixed(1).padStart(9)} ${unit}  ${median(y).toFixed(1).padStart(9)} ${unit}  ${(median(x) / median(y)).toFixed(2).padStart(6)}x`;
console.log(`desktop start-up, median of ${runs} runs (first run: atelier ${a.start[0].toFixed(0)} ms, hello ${h.start[0].toFixed(0)} ms)`);
console.log(`${"".padEnd(28)} ${"atelier".padStart(12)}  ${"hello-world".padStart(12)}  ${"ratio".padStart(7)}`);
console.log(row("start to interactive", a.start, h.start, "ms "));
console.log(row(`idle PSS after ${idleMs / 1000}s (tree)`, a.pss, h.pss, "MiB"));

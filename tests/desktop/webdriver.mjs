// A minimal W3C WebDriver client over fetch: just the calls the desktop end-to-end test makes.
// tauri-driver listens on :4444 and forwards to WebKitWebDriver, which drives the real app.
// Screenshots are taken from the X server (`windowPng`): WebKitWebDriver's screenshot command
// never answers under Xvfb here (WebKitGTK 2.50), with or without compositing.
import { execFileSync } from "node:child_process";

const ELEMENT = "element-6066-11e4-a52e-4f735dfecb2a";

export class Session {
  static async start(base, capabilities) {
    const { value } = await call(base, "POST", "/session", { capabilities: { alwaysMatch: capabilities } });
    return new Session(base, value.sessionId);
  }

  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  send(method, path, body) {
    return call(this.base, method, `/session/${this.id}${path}`, body);
  }

  /** The first element matching `css`, waiting up to `timeoutMs` for it to appear. */
  async find(css, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const { value } = await this.send("POST", "/element", { using: "css selector", value: css });
        // W3C names the reference key; some drivers answer with the legacy `ELEMENT` key.
        return new Element(this, value[ELEMENT] ?? value.ELEMENT ?? Object.values(value)[0]);
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`no element matches ${css}: ${err.message}`);
        await sleep(150);
      }
    }
  }

  /** Waits until `predicate(text of css)` holds. */
  async waitForText(css, predicate, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
      try {
        last = await (await this.find(css, 1000)).text();
        if (predicate(last)) return last;
      } catch {
        // not there yet
      }
      if (Date.now() > deadline) throw new Error(`${css}: text never matched; last was ${JSON.stringify(last)}`);
      await sleep(150);
    }
  }

  async execute(script, args = []) {
    const { value } = await this.send("POST", "/execute/sync", { script, args });
    return value;
  }

  /** Handles of the app's windows (one webview each). */
  async windows() {
    return (await this.send("GET", "/window/handles")).value;
  }

  async currentWindow() {
    return (await this.send("GET", "/window")).value;
  }

  switchTo(handle) {
    return this.send("POST", "/window", { handle });
  }

  /** Closes the current window. */
  closeWindow() {
    return this.send("DELETE", "/window");
  }

  async end() {
    await this.send("DELETE", "");
  }
}

class Element {
  constructor(session, id) {
    this.session = session;
    this.id = id;
  }
  click() {
    return this.session.send("POST", `/element/${this.id}/click`, {});
  }
  type(text) {
    return this.session.send("POST", `/element/${this.id}/value`, { text });
  }
  async text() {
    return (await this.session.send("GET", `/element/${this.id}/text`)).value;
  }
}

async function call(base, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok || (answer.value && answer.value.error)) {
    throw new Error(`${method} ${path}: ${answer.value?.error ?? response.status}: ${answer.value?.message ?? ""}`);
  }
  return answer;
}

/** A PNG of the X window titled `title` (xwd, then netpbm), as the user would see it. */
export function windowPng(title) {
  return execFileSync("sh", ["-c", 'xwd -silent -name "$1" | xwdtopnm 2>/dev/null | pnmtopng 2>/dev/null', "sh", title], {
    maxBuffer: 64 * 1024 * 1024,
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Settings → Providers and keys. Keys go into the OS keychain through write-only fields: what
// you type is sent once and the field is cleared; nothing ever reads a key back, the list shows
// only names, who reads them and the last test. Providers (built in or added) with their test,
// and the routing table by task class.
import { useState } from "react";
import {
  attempt,
  commands,
  type KeyView,
  type ProviderCheck,
  type ProviderView,
  type Route,
  type WireFormat,
} from "../api";
import { useLoaded } from "../useLoaded";

const listKeys = () => commands.keysList();
const listProviders = () => commands.providersList();
const listRoutes = () => commands.routesList();

function checked(c: ProviderCheck): string {
  return c.passed
    ? `${c.provider} answered${c.models != null ? ` (${c.models} models)` : ""}.`
    : `${c.provider} failed: ${c.error ? JSON.stringify(c.error) : "no answer"}`;
}

export function SettingsView() {
  return (
    <div className="settings">
      <KeysSection />
      <ProvidersSection />
      <RoutesSection />
    </div>
  );
}

function KeysSection() {
  const { data: keys, problem, reload } = useLoaded<KeyView[]>(listKeys, []);
  const [name, setName] = useState("");
  const [key, setKey] = useState("");
  const [formProblem, setFormProblem] = useState("");
  const [note, setNote] = useState("");

  async function save() {
    const typed = key;
    // The field never keeps the key, whatever the answer.
    setKey("");
    const stored = await attempt(() => commands.keySet(name, typed), setFormProblem);
    if (stored) {
      setNote(`Stored ${stored.name} in the OS keychain.`);
      setName("");
      await reload();
    }
  }

  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">Keys</h2>
      <p className="hint">Keys live only in your OS keychain. Atelier never shows one again.</p>
      {problem && <p role="alert" className="error">{problem}</p>}
      <form
        className="editor"
        aria-label="Set a key"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label>
          Name <input id="key-name" value={name} placeholder="openai" onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Key{" "}
          <input
            id="key-value"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={key}
            onChange={(e) => setKey(e.target.value)}
          />
        </label>
        <button type="submit" disabled={!name || !key}>
          Store in keychain
        </button>
        {formProblem && <p role="alert" className="error">{formProblem}</p>}
        {note && <p className="hint">{note}</p>}
      </form>
      {keys.length === 0 && <p className="empty">No keys yet.</p>}
      <ul className="cards" aria-label="Keys">
        {keys.map((k) => (
          <KeyRow key={k.name} entry={k} onChanged={() => void reload()} />
        ))}
      </ul>
    </section>
  );
}

function KeyRow({ entry, onChanged }: { entry: KeyView; onChanged: () => void }) {
  const [problem, setProblem] = useState("");
  const [note, setNote] = useState("");
  return (
    <li className="card">
      <strong>{entry.name}</strong>{" "}
      <span className="hint">
        read by {entry.used_by.join(", ") || "no provider"}
        {entry.test_passed !== null && `; last test ${entry.test_passed ? "passed" : "failed"}`}
      </span>{" "}
      <button
        aria-label={`Test key ${entry.name}`}
        onClick={() =>
          void attempt(() => commands.keyTest(entry.name), setProblem).then((c) => {
            if (c) setNote(checked(c));
            onChanged();
          })
        }
      >
        Test
      </button>{" "}
      <button
        aria-label={`Delete key ${entry.name}`}
        onClick={() => void attempt(() => commands.keyRemove(entry.name), setProblem).then((r) => r !== null && onChanged())}
      >
        Delete
      </button>
      {note && <p className="hint">{note}</p>}
      {problem && <p role="alert" className="error">{problem}</p>}
    </li>
  );
}

const FORMATS: WireFormat[] = ["openai", "anthropic", "gemini"];

function ProvidersSection() {
  const { data: providers, problem, reload } = useLoaded<ProviderView[]>(listProviders, []);
  const [draft, setDraft] = useState({ name: "", format: "openai" as WireFormat, base_url: "", key_ref: "" });
  const [formProblem, setFormProblem] = useState("");
  const [notes, setNotes] = useState<Record<string, string>>({});

  return (
    <section aria-labelledby="providers-title">
      <h2 id="providers-title">Providers</h2>
      {problem && <p role="alert" className="error">{problem}</p>}
      <table className="listing" aria-label="Providers">
        <tbody>
          {providers.map((p) => (
            <tr key={p.name}>
              <th scope="row">{p.name}</th>
              <td>{p.format}</td>
              <td>{p.base_url}</td>
              <td>{p.key_ref ? `key ${p.key_ref}${p.key_set ? "" : " (not set)"}` : "no key"}</td>
              <td>
                <button
                  aria-label={`Test provider ${p.name}`}
                  onClick={() =>
                    void attempt(() => commands.providerTest(p.name), (m) => setNotes((n) => ({ ...n, [p.name]: m }))).then(
                      (c) => c && setNotes((n) => ({ ...n, [p.name]: checked(c) })),
                    )
                  }
                >
                  Test
                </button>
                {!p.builtin && (
                  <button
                    aria-label={`Remove provider ${p.name}`}
                    onClick={() => void attempt(() => commands.providerRemove(p.name), setFormProblem).then(() => reload())}
                  >
                    Remove
                  </button>
                )}
                {notes[p.name] && <span className="hint"> {notes[p.name]}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="editor"
        aria-label="Add a provider"
        onSubmit={(e) => {
          e.preventDefault();
          void attempt(
            () => commands.providerAdd({ ...draft, key_ref: draft.key_ref.trim() || null }),
            setFormProblem,
          ).then((added) => {
            if (added) {
              setDraft({ name: "", format: "openai", base_url: "", key_ref: "" });
              void reload();
            }
          });
        }}
      >
        <label>
          Name <input id="provider-name" value={draft.name} placeholder="lmstudio" onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
        </label>
        <label>
          Format{" "}
          <select id="provider-format" value={draft.format} onChange={(e) => setDraft({ ...draft, format: e.target.value as WireFormat })}>
            {FORMATS.map((f) => (
              <option key={f}>{f}</option>
            ))}
          </select>
        </label>
        <label>
          Base URL{" "}
          <input
            id="provider-base-url"
            value={draft.base_url}
            placeholder="http://localhost:1234/v1"
            onChange={(e) => setDraft({ ...draft, base_url: e.target.value })}
          />
        </label>
        <label>
          Key name (optional) <input value={draft.key_ref} onChange={(e) => setDraft({ ...draft, key_ref: e.target.value })} />
        </label>
        <button type="submit" id="provider-add">
          Add provider
        </button>
        {formProblem && <p role="alert" className="error">{formProblem}</p>}
      </form>
    </section>
  );
}

function RoutesSection() {
  const { data: routes, problem, reload } = useLoaded<Route[]>(listRoutes, []);
  const [taskClass, setTaskClass] = useState("llm.creator");
  const [models, setModels] = useState("");
  const [formProblem, setFormProblem] = useState("");
  return (
    <section aria-labelledby="routes-title">
      <h2 id="routes-title">Routing</h2>
      <p className="hint">
        When a step names no model and its role prefers none that works, its task class decides, in this order.
      </p>
      {problem && <p role="alert" className="error">{problem}</p>}
      <ul aria-label="Routes">
        {routes.map((r) => (
          <li key={r.task_class}>
            <strong>{r.task_class}</strong>: {r.models.join(" → ")}
          </li>
        ))}
      </ul>
      <form
        className="editor"
        aria-label="Set a route"
        onSubmit={(e) => {
          e.preventDefault();
          const list = models.split(",").map((m) => m.trim()).filter(Boolean);
          void attempt(() => commands.routeSet({ task_class: taskClass, models: list }), setFormProblem).then(
            (r) => r && void reload(),
          );
        }}
      >
        <label>
          Task class <input value={taskClass} onChange={(e) => setTaskClass(e.target.value)} />
        </label>
        <label>
          Models, in order{" "}
          <input value={models} placeholder="anthropic:claude-sonnet-4-5, openai:gpt-4o" onChange={(e) => setModels(e.target.value)} />
        </label>
        <button type="submit">Set route</button>
        {formProblem && <p role="alert" className="error">{formProblem}</p>}
      </form>
    </section>
  );
}

// Canon blocks and shapes: list, create and edit, each refusal shown on the form that caused it.
import { useState } from "react";
import { attempt, commands, type CanonBlock, type Shape, type ShapeKind, type Tier } from "../api";
import { useLoaded } from "../useLoaded";

function tagsFrom(text: string): string[] {
  return text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

export function CatalogView() {
  return (
    <div className="catalog">
      <CanonSection />
      <ShapeSection />
    </div>
  );
}

type CanonDraft = { title: string; body: string; tags: string; tier: Tier };
const EMPTY_CANON: CanonDraft = { title: "", body: "", tags: "", tier: "canon" };

const listCanon = () => commands.canonList({ tag: null, tier: null });
const listShapes = () => commands.shapeList();

function CanonSection() {
  const { data: blocks, problem, reload } = useLoaded<CanonBlock[]>(listCanon, []);
  const [editing, setEditing] = useState<number | "new" | null>(null);

  async function save(draft: CanonDraft, onError: (m: string) => void) {
    const fields = { title: draft.title, body: draft.body, tags: tagsFrom(draft.tags), tier: draft.tier };
    const saved =
      editing === "new"
        ? await attempt(() => commands.canonCreate(fields), onError)
        : await attempt(() => commands.canonEdit({ id: editing as number, ...fields }), onError);
    if (saved) {
      setEditing(null);
      await reload();
    }
  }

  return (
    <section aria-labelledby="canon-title">
      <h2 id="canon-title">Canon</h2>
      <button onClick={() => setEditing("new")} disabled={editing === "new"}>
        New canon block
      </button>
      {problem && <p role="alert" className="error">{problem}</p>}
      {editing === "new" && <CanonForm initial={EMPTY_CANON} onSave={save} onCancel={() => setEditing(null)} />}
      {blocks.length === 0 && editing !== "new" && (
        <p className="empty">No canon yet: the facts your work must never contradict go here.</p>
      )}
      <ul className="cards">
        {blocks.map((b) => (
          <li key={b.id} className="card">
            {editing === b.id ? (
              <CanonForm
                initial={{ title: b.title, body: b.body, tags: b.tags.join(", "), tier: b.tier }}
                onSave={save}
                onCancel={() => setEditing(null)}
              />
            ) : (
              <>
                <h3>
                  {b.title} <span className="badge">{b.tier}</span>
                </h3>
                <p className="chips">
                  {b.tags.map((t) => (
                    <span key={t} className="chip">
                      {t}
                    </span>
                  ))}
                </p>
                <pre className="body">{b.body}</pre>
                <button onClick={() => setEditing(b.id)} aria-label={`Edit canon block ${b.title}`}>
                  Edit
                </button>
              </>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** A create-or-edit form: its fields, Save and Cancel, and the refusal of its last save. */
function EditorForm(props: {
  label: string;
  onSave: (onError: (m: string) => void) => Promise<void>;
  onCancel: () => void;
  children: React.ReactNode;
}) {
  const [problem, setProblem] = useState("");
  return (
    <form
      className="editor"
      aria-label={props.label}
      onSubmit={(e) => {
        e.preventDefault();
        void props.onSave(setProblem);
      }}
    >
      {props.children}
      <div className="actions">
        <button type="submit">Save</button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
      {problem && <p role="alert" className="error">{problem}</p>}
    </form>
  );
}

function CanonForm(props: {
  initial: CanonDraft;
  onSave: (d: CanonDraft, onError: (m: string) => void) => Promise<void>;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState(props.initial);
  return (
    <EditorForm label="Canon block" onSave={(onError) => props.onSave(draft, onError)} onCancel={props.onCancel}>
      <label>
        Title <input value={draft.title} onChange={(e) => setDraft({ ...draft, title: e.target.value })} />
      </label>
      <label>
        Tier{" "}
        <select value={draft.tier} onChange={(e) => setDraft({ ...draft, tier: e.target.value as Tier })}>
          <option value="canon">canon</option>
          <option value="secondary">secondary</option>
        </select>
      </label>
      <label>
        Tags (comma separated){" "}
        <input value={draft.tags} onChange={(e) => setDraft({ ...draft, tags: e.target.value })} />
      </label>
      <label className="wide">
        Body (Markdown)
        <textarea rows={8} value={draft.body} onChange={(e) => setDraft({ ...draft, body: e.target.value })} />
      </label>
    </EditorForm>
  );
}

type ShapeDraft = { name: string; kind: ShapeKind; description: string; body: string };
const EMPTY_SHAPE: ShapeDraft = { name: "", kind: "markdown", description: "", body: "" };

function ShapeSection() {
  const { data: shapes, problem, reload } = useLoaded<Shape[]>(listShapes, []);
  const [editing, setEditing] = useState<string | null>(null);
  const NEW = "\u0000new";

  async function save(draft: ShapeDraft, onError: (m: string) => void) {
    const saved =
      editing === NEW
        ? await attempt(() => commands.shapeCreate(draft), onError)
        : await attempt(
            () =>
              commands.shapeEdit({
                name: draft.name,
                kind: draft.kind,
                description: draft.description,
                body: draft.body,
              }),
            onError,
          );
    if (saved) {
      setEditing(null);
      await reload();
    }
  }

  return (
    <section aria-labelledby="shapes-title">
      <h2 id="shapes-title">Shapes</h2>
      <button onClick={() => setEditing(NEW)} disabled={editing === NEW}>
        New shape
      </button>
      {problem && <p role="alert" className="error">{problem}</p>}
      {editing === NEW && <ShapeForm initial={EMPTY_SHAPE} isNew onSave={save} onCancel={() => setEditing(null)} />}
      {shapes.length === 0 && editing !== NEW && (
        <p className="empty">No shapes yet: a shape is the outline or JSON Schema an output must follow.</p>
      )}
      <ul className="cards">
        {shapes.map((s) => (
          <li key={s.id} className="card">
            {editing === s.name ? (
              <ShapeForm
                initial={{ name: s.name, kind: s.kind, description: s.description, body: s.body }}
                isNew={false}
                onSave={save}
                onCancel={() => setEditing(null)}
              />
            ) : (
              <>
                <h3>
                  {s.name} <span className="badge">{s.kind === "json_schema" ? "JSON Schema" : "Markdown"}</span>
                </h3>
                <p>{s.description}</p>
                {s.required_sections.length > 0 && (
                  <p className="chips" aria-label="Required sections">
                    {s.required_sections.map((r) => (
                      <span key={r} className="chip">
                        {r}
                      </span>
                    ))}
                  </p>
                )}
                <button onClick={() => setEditing(s.name)} aria-label={`Edit shape ${s.name}`}>
                  Edit
                </button>
              </>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function ShapeForm(props: {
  initial: ShapeDraft;
  isNew: boolean;
  onSave: (d: ShapeDraft, onError: (m: string) => void) => Promise<void>;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState(props.initial);
  return (
    <EditorForm label="Shape" onSave={(onError) => props.onSave(draft, onError)} onCancel={props.onCancel}>
      <label>
        Name{" "}
        <input
          value={draft.name}
          readOnly={!props.isNew}
          onChange={(e) => setDraft({ ...draft, name: e.target.value })}
        />
      </label>
      <label>
        Kind{" "}
        <select value={draft.kind} onChange={(e) => setDraft({ ...draft, kind: e.target.value as ShapeKind })}>
          <option value="markdown">Markdown outline</option>
          <option value="json_schema">JSON Schema</option>
        </select>
      </label>
      <label>
        Description{" "}
        <input value={draft.description} onChange={(e) => setDraft({ ...draft, description: e.target.value })} />
      </label>
      <label className="wide">
        Body
        <textarea rows={8} value={draft.body} onChange={(e) => setDraft({ ...draft, body: e.target.value })} />
      </label>
    </EditorForm>
  );
}

// The ad-hoc half of the play bench: each ASSET part chosen by hand — the role (Assistant),
// canon tags and a passage search within a token budget (Sources), a shape (Structured output),
// expectations, and the task — sent as one step, previewed and gated like a play.
import { useMemo } from "react";
import { commands, type CanonBlock, type ProjectView, type Role, type Shape } from "../api";
import type { Expectation } from "../bindings";
import { useLoaded } from "../useLoaded";

export type ExpectationDraft = { kind: ExpectationKind; value: string };
export type ExpectationKind =
  | "max_words"
  | "min_words"
  | "required_sections"
  | "regex"
  | "forbidden"
  | "must_cite_sources"
  | "rubric";
const KINDS: ExpectationKind[] = [
  "max_words",
  "min_words",
  "required_sections",
  "regex",
  "forbidden",
  "must_cite_sources",
  "rubric",
];

export type AdhocDraft = {
  role: string;
  canonTags: string[];
  search: string;
  project: string;
  budget: string;
  shape: string; // "", "inline", or a catalog shape's name
  markdown: string;
  expectations: ExpectationDraft[];
  task: string;
};

export const EMPTY_ADHOC: AdhocDraft = {
  role: "writer",
  canonTags: [],
  search: "",
  project: "",
  budget: "2000",
  shape: "",
  markdown: "",
  expectations: [],
  task: "",
};

const list = (text: string) =>
  text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);

function expectation(e: ExpectationDraft): Expectation {
  switch (e.kind) {
    case "max_words":
      return { max_words: Number(e.value) };
    case "min_words":
      return { min_words: Number(e.value) };
    case "required_sections":
      return { required_sections: list(e.value) };
    case "forbidden":
      return { forbidden: list(e.value) };
    case "regex":
      return { regex: e.value };
    case "must_cite_sources":
      return { must_cite_sources: true };
    case "rubric":
      return { rubric: e.value };
  }
}

/** The draft as the core's ad-hoc request. */
export function adhocRequest(d: AdhocDraft) {
  return {
    role: d.role,
    canon_tags: d.canonTags,
    search: d.search.trim() || null,
    project: d.project || null,
    passages: null,
    budget_tokens: d.budget.trim() === "" ? null : Number(d.budget),
    shape: d.shape === "" ? null : d.shape === "inline" ? { markdown: d.markdown } : d.shape,
    expectations: d.expectations.map(expectation),
    task: d.task,
    task_class: null,
  };
}

const loadRoles = () => commands.roleList();
const loadCanon = () => commands.canonList({ tag: null, tier: null });
const loadShapes = () => commands.shapeList();
const loadProjects = () => commands.projectList();

export function AdhocForm({ draft, onChange }: { draft: AdhocDraft; onChange: (d: AdhocDraft) => void }) {
  const { data: roles } = useLoaded<Role[]>(loadRoles, []);
  const { data: canon } = useLoaded<CanonBlock[]>(loadCanon, []);
  const { data: shapes } = useLoaded<Shape[]>(loadShapes, []);
  const { data: projects } = useLoaded<ProjectView[]>(loadProjects, []);
  const tags = useMemo(() => [...new Set(canon.flatMap((b) => b.tags))].sort(), [canon]);
  const set = (patch: Partial<AdhocDraft>) => onChange({ ...draft, ...patch });
  const setExpectation = (i: number, patch: Partial<ExpectationDraft>) =>
    set({ expectations: draft.expectations.map((e, j) => (i === j ? { ...e, ...patch } : e)) });

  return (
    <fieldset className="adhoc">
      <legend>Each part</legend>
      <label>
        Assistant (role){" "}
        <select id="adhoc-role" value={draft.role} onChange={(e) => set({ role: e.target.value })}>
          {roles.map((r) => (
            <option key={r.name} value={r.name}>
              {r.display_name} ({r.name})
            </option>
          ))}
        </select>
      </label>
      <fieldset>
        <legend>Sources</legend>
        {tags.length === 0 && <p className="hint">No canon yet; add blocks under Canon &amp; shapes.</p>}
        <div className="chips" role="group" aria-label="Canon tags">
          {tags.map((t) => (
            <label key={t} className="chip">
              <input
                type="checkbox"
                checked={draft.canonTags.includes(t)}
                onChange={(e) =>
                  set({ canonTags: e.target.checked ? [...draft.canonTags, t] : draft.canonTags.filter((x) => x !== t) })
                }
              />{" "}
              {t}
            </label>
          ))}
        </div>
        <label>
          Passages matching <input id="adhoc-search" value={draft.search} onChange={(e) => set({ search: e.target.value })} />
        </label>
        <label>
          In project{" "}
          <select value={draft.project} onChange={(e) => set({ project: e.target.value })}>
            <option value="">every project</option>
            {projects.map((p) => (
              <option key={p.name}>{p.name}</option>
            ))}
          </select>
        </label>
        <label>
          Token budget <input type="number" min={0} value={draft.budget} onChange={(e) => set({ budget: e.target.value })} />
        </label>
      </fieldset>
      <label>
        Structured output{" "}
        <select id="adhoc-shape" value={draft.shape} onChange={(e) => set({ shape: e.target.value })}>
          <option value="">free text</option>
          <option value="inline">Markdown headings, written here</option>
          {shapes.map((s) => (
            <option key={s.name} value={s.name}>
              shape {s.name}
            </option>
          ))}
        </select>
      </label>
      {draft.shape === "inline" && (
        <textarea
          aria-label="Markdown template"
          rows={4}
          value={draft.markdown}
          placeholder={"## Goal\n## Beats"}
          onChange={(e) => set({ markdown: e.target.value })}
        />
      )}
      <fieldset>
        <legend>Expectations</legend>
        {draft.expectations.map((e, i) => (
          <div key={i} className="row" role="group" aria-label={`Expectation ${i + 1}`}>
            <select value={e.kind} onChange={(ev) => setExpectation(i, { kind: ev.target.value as ExpectationKind })}>
              {KINDS.map((k) => (
                <option key={k}>{k}</option>
              ))}
            </select>
            {e.kind !== "must_cite_sources" && (
              <input aria-label="Value" value={e.value} onChange={(ev) => setExpectation(i, { value: ev.target.value })} />
            )}
            <button type="button" onClick={() => set({ expectations: draft.expectations.filter((_, j) => j !== i) })}>
              Remove
            </button>
          </div>
        ))}
        <button
          type="button"
          onClick={() => set({ expectations: [...draft.expectations, { kind: "max_words", value: "500" }] })}
        >
          Add expectation
        </button>
      </fieldset>
      <label>
        Task <textarea id="adhoc-task" rows={4} value={draft.task} onChange={(e) => set({ task: e.target.value })} />
      </label>
    </fieldset>
  );
}

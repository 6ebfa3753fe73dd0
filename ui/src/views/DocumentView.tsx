// One document: its metadata (an attachment's media facts, an image previewed), the links it
// makes (dangling ones marked), its backlinks, and the related documents with the reason for
// each; every document named can be opened in turn.
import { useEffect, useState } from "react";
import { attempt, commands, type DocumentView as Doc, type Media, type Preview, type RelatedDocument } from "../api";
import { counted } from "../counted";

function reasonText(r: RelatedDocument["reasons"][number]): string {
  switch (r.kind) {
    case "links_to":
      return "linked from here";
    case "linked_from":
      return "links here";
    case "embeds":
      return "embedded here";
    case "embedded_in":
      return "embeds this";
    case "similar":
      return `similar (${(r.score ?? 0).toFixed(2)})`;
    case "shared_tags":
      return `shares #${r.tags.join(" #")}`;
  }
}

/** An attachment's facts in words, as the CLI prints them: `image/png, 64 × 48 px`. */
export function mediaLine(m: Media): string {
  const parts = [m.media_type];
  if (m.width != null && m.height != null) parts.push(`${m.width} × ${m.height} px`);
  if (m.duration_ms != null) parts.push(`${(m.duration_ms / 1000).toFixed(1)} s`);
  if (m.pages != null) parts.push(`${m.pages} page${m.pages === 1 ? "" : "s"}`);
  return parts.join(", ");
}

export function DocumentView({ document, onOpen }: { document: number; onOpen: (document: number) => void }) {
  const [doc, setDoc] = useState<Doc | null>(null);
  const [related, setRelated] = useState<RelatedDocument[]>([]);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [problem, setProblem] = useState("");

  useEffect(() => {
    let current = true;
    setPreview(null);
    void attempt(() => commands.documentShow(String(document)), setProblem).then((d) => {
      if (!current) return;
      setDoc(d);
      // Only an image whose header was read has a preview (a truncated one has no size).
      if (d?.document.kind === "image" && d.media?.width != null) {
        void attempt(() => commands.documentPreview(String(document)), setProblem).then(
          (p) => current && setPreview(p),
        );
      }
    });
    void attempt(() => commands.related(String(document), 10), setProblem).then((r) => current && r && setRelated(r));
    return () => {
      current = false;
    };
  }, [document]);

  if (!doc) return problem ? <p role="alert" className="error">{problem}</p> : <p>Loading…</p>;
  return (
    <article className="document" aria-labelledby="document-title">
      <h2 id="document-title">{doc.document.title}</h2>
      <p className="muted">
        {doc.document.project}:{doc.document.path} · {doc.document.kind} · {counted(doc.chunks, "passage")}{" "}
        <button onClick={() => void attempt(() => commands.documentOpen(String(document)), setProblem)}>Open file</button>
      </p>
      {problem && <p role="alert" className="error">{problem}</p>}
      {doc.media && <p className="media">{mediaLine(doc.media)}</p>}
      {preview && (
        <img
          className="preview"
          src={`data:${preview.media_type};base64,${preview.base64}`}
          alt={`Preview of ${doc.document.path}`}
        />
      )}
      {doc.tags.length > 0 && (
        <p className="chips">
          {doc.tags.map((t) => (
            <span key={t} className="chip">
              #{t}
            </span>
          ))}
        </p>
      )}
      <h3>Links</h3>
      <ul id="document-links">
        {doc.links.map((l, i) => (
          <li key={i}>
            {l.resolved ? (
              <button className="link" onClick={() => onOpen(l.resolved!.id)}>
                {l.label ?? l.target}
              </button>
            ) : (
              <span className="dangling" title="No document by that name yet">
                {l.label ?? l.target} (dangling)
              </span>
            )}
            {l.heading && <span className="muted"> #{l.heading}</span>} <span className="muted">line {l.line}</span>
          </li>
        ))}
      </ul>
      <h3>Backlinks</h3>
      <ul id="document-backlinks">
        {doc.backlinks.length === 0 && <li className="empty">Nothing links here.</li>}
        {doc.backlinks.map((b) => (
          <li key={b.source.id}>
            <button className="link" onClick={() => onOpen(b.source.id)}>
              {b.source.title}
            </button>{" "}
            <span className="muted">line {b.line}</span>
          </li>
        ))}
      </ul>
      <h3>Related</h3>
      <ul id="document-related">
        {related.length === 0 && <li className="empty">Nothing related yet.</li>}
        {related.map((r) => (
          <li key={r.document.id}>
            <button className="link" onClick={() => onOpen(r.document.id)}>
              {r.document.title}
            </button>{" "}
            <span className="muted">{r.reasons.map(reasonText).join("; ")}</span>
          </li>
        ))}
      </ul>
    </article>
  );
}

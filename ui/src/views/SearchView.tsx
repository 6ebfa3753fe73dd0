// Search as you type: words, meaning or both, with project/tag/path/kind filters; each hit shows
// its document's best passage with the matched words marked (its other passages beneath),
// opens its document, and on demand says why it ranks where it does.
import { useEffect, useState } from "react";
import { attempt, commands, type DocumentKind, type Explanation, type SearchHit, type SearchMode } from "../api";

const KINDS: DocumentKind[] = ["markdown", "text", "fountain", "org", "rst", "code"];

/** One line: the hit's place by words, by meaning and after fusion, and its fields. */
export function explanationLine(e: Explanation): string {
  const place = (name: string, p: Explanation["words"]) => (p ? `${name} #${p.rank} (${(p.score ?? 0).toFixed(4)})` : null);
  const parts = [place("words", e.words), place("meaning", e.meaning), place("fused", e.fused)].filter(
    (p): p is string => p !== null,
  );
  if (e.fields.length > 0) parts.push(`fields: ${e.fields.map((f) => `${f.field} ${(f.score ?? 0).toFixed(2)}`).join(", ")}`);
  return parts.join("; ");
}

export function SearchView({ onOpen }: { onOpen: (document: number) => void }) {
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState<SearchMode>("hybrid");
  const [project, setProject] = useState("");
  const [tag, setTag] = useState("");
  const [path, setPath] = useState("");
  const [kind, setKind] = useState<DocumentKind | "">("");
  const [allWords, setAllWords] = useState(false);
  const [passages, setPassages] = useState(false);
  const [explained, setExplained] = useState<Set<number>>(new Set());
  const [hits, setHits] = useState<SearchHit[]>([]);
  const [problem, setProblem] = useState("");
  const [searching, setSearching] = useState(false);

  useEffect(() => {
    if (!query.trim()) {
      setHits([]);
      setProblem("");
      return;
    }
    let current = true;
    // As you type, but not on every key: a quarter second after the last one.
    const timer = setTimeout(() => {
      setSearching(true);
      void attempt(
        () =>
          commands.search({
            query,
            mode,
            filter: { project: project || null, tag: tag || null, path: path || null, kind: kind || null },
            limit: 20,
            all_words: allWords,
            passages,
            // "Why here?" names the fields the words matched.
            explain: true,
          }),
        (m) => current && setProblem(m),
      ).then((found) => {
        if (!current) return;
        setSearching(false);
        if (found) setHits(found);
      });
    }, 250);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [query, mode, project, tag, path, kind, allWords, passages]);

  const toggleWhy = (chunk: number) =>
    setExplained((shown) => {
      const next = new Set(shown);
      if (next.has(chunk)) next.delete(chunk);
      else next.add(chunk);
      return next;
    });

  return (
    <section aria-labelledby="search-title" className="search">
      <h2 id="search-title">Search</h2>
      <input
        id="search-query"
        type="search"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        placeholder="a passage, by its words or its meaning"
        aria-label="Search"
        autoFocus
      />
      <div className="row filters">
        <label>
          Mode{" "}
          <select id="search-mode" value={mode} onChange={(e) => setMode(e.target.value as SearchMode)}>
            <option value="hybrid">words + meaning</option>
            <option value="text">words</option>
            <option value="vector">meaning</option>
          </select>
        </label>
        <label>
          Project <input value={project} onChange={(e) => setProject(e.target.value)} size={10} />
        </label>
        <label>
          Tag <input value={tag} onChange={(e) => setTag(e.target.value)} size={10} />
        </label>
        <label>
          Path <input value={path} onChange={(e) => setPath(e.target.value)} placeholder="chapters/**" size={12} />
        </label>
        <label>
          Kind{" "}
          <select value={kind} onChange={(e) => setKind(e.target.value as DocumentKind | "")}>
            <option value="">any</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input id="search-all-words" type="checkbox" checked={allWords} onChange={(e) => setAllWords(e.target.checked)} /> every
          word
        </label>
        <label>
          <input id="search-passages" type="checkbox" checked={passages} onChange={(e) => setPassages(e.target.checked)} /> each
          passage
        </label>
      </div>
      {problem && <p role="alert" className="error">{problem}</p>}
      {searching && <p className="muted">Searching…</p>}
      {!searching && query.trim() && hits.length === 0 && !problem && <p className="empty">Nothing found.</p>}
      <ol className="hits">
        {hits.map((h) => (
          <li key={h.chunk} className="hit">
            <button className="link" onClick={() => onOpen(h.document)}>
              {h.title}
            </button>{" "}
            <span className="muted">
              {h.project}:{h.path} · lines {h.lines[0]}–{h.lines[1]} · {(h.score ?? 0).toFixed(3)}
              {h.text_rank ? ` · words #${h.text_rank}` : ""}
              {h.vector_rank ? ` · meaning #${h.vector_rank}` : ""}
            </span>
            {h.heading && <p className="heading">{h.heading}</p>}
            <p className="snippet">
              {h.snippet.map((part, i) => (part.highlight ? <mark key={i}>{part.text}</mark> : <span key={i}>{part.text}</span>))}
            </p>
            {h.others.length > 0 && (
              <p className="muted others">
                also {h.others.map((o) => `lines ${o.lines[0]}–${o.lines[1]}${o.heading ? ` (${o.heading})` : ""}`).join(", ")}
              </p>
            )}
            {explained.has(h.chunk) && <p className="why">{explanationLine(h.explain)}</p>}
            <button onClick={() => void attempt(() => commands.documentOpen(String(h.document)), setProblem)}>Open file</button>{" "}
            <button className="why-toggle" aria-expanded={explained.has(h.chunk)} onClick={() => toggleWhy(h.chunk)}>
              Why here?
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}

//! The document commands: projects, ingest (with a progress bar), search, docs, related,
//! watch and hooks. Calls the api and renders; no product logic.

use crate::args::*;
use crate::out::{Failure, Out};
use crate::render;
use atelier_core::Error;
use atelier_core::access::auth::Principal;
use atelier_core::api::wire::Api;
use atelier_core::api::{
    DocumentText, DocumentView, HookAction, HookAdd, HookView, IngestProgress, IngestReport,
    IngestStage, ProjectAdd, ProjectView, RelatedDocument, RelatedReason, SearchRequest,
    WatchOptions, WatchOutcome,
};
use atelier_core::documents::DocumentKind;
use atelier_core::documents::eval::{self, EvalReport, EvalRequest};
use atelier_core::documents::search::{Explanation, Placing, SearchFilter, SearchHit};
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Write as _;
use std::time::Duration;

pub fn projects(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: ProjectCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        ProjectCommand::Add { path, name, watch } => {
            let mut view = atelier
                .project_add(
                    who,
                    ProjectAdd {
                        // Whoever answers (this process or the vault's owner) may have another
                        // working directory, so the path goes as the caller means it.
                        path: std::path::absolute(&path)
                            .unwrap_or(path)
                            .to_string_lossy()
                            .into_owned(),
                        name,
                    },
                )
                .map_err(fail)?;
            if watch {
                view = atelier.project_watch(who, &view.name, true).map_err(fail)?;
            }
            out.show(&view, |p| {
                format!(
                    "Added project {} ({}).\nNext: atelier ingest {}",
                    p.name, p.root, p.name
                )
            });
        }
        ProjectCommand::Ls => {
            let list = atelier.project_list(who).map_err(fail)?;
            out.show(&list, |l| project_table(l));
        }
        ProjectCommand::Rm { name } => {
            let view = atelier.project_remove(who, &name).map_err(fail)?;
            out.show(&view, |p| {
                format!(
                    "Removed project {} and its {} documents from the vault; no file was touched.",
                    p.name, p.documents
                )
            });
        }
        ProjectCommand::Watch { name, state } => {
            let view = atelier
                .project_watch(who, &name, matches!(state, OnOff::On))
                .map_err(fail)?;
            out.show(&view, |p| {
                format!(
                    "Watching {} is {}.",
                    p.name,
                    if p.watch { "on" } else { "off" }
                )
            });
        }
    }
    Ok(())
}

fn project_table(list: &[ProjectView]) -> String {
    if list.is_empty() {
        return "No projects yet. Add one: atelier projects add PATH".to_owned();
    }
    let mut s = format!(
        "{:<20} {:>9} {:>8}  {:<5}  ROOT\n",
        "NAME", "DOCUMENTS", "CHUNKS", "WATCH"
    );
    for p in list {
        let _ = writeln!(
            s,
            "{:<20} {:>9} {:>8}  {:<5}  {}",
            p.name,
            p.documents,
            p.chunks,
            if p.watch { "on" } else { "off" },
            p.root
        );
    }
    s
}

/// A progress bar on stderr, drawn only on a terminal and never with --json.
struct Progress {
    bar: ProgressBar,
    stage: Option<IngestStage>,
}

impl Progress {
    fn new(out: &Out) -> Progress {
        let bar = if out.json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(0)
        };
        Progress { bar, stage: None }
    }

    fn update(&mut self, p: &IngestProgress) {
        if self.stage != Some(p.stage) {
            self.stage = Some(p.stage);
            let label = match p.stage {
                IngestStage::Scan => "scanning",
                IngestStage::Read => "reading",
                IngestStage::Embed => "embedding",
                IngestStage::Index => "indexing",
            };
            let style = ProgressStyle::with_template(&format!(
                "{{spinner}} {} {label:<9} [{{bar:30}}] {{pos}}/{{len}} {{elapsed}}",
                p.project
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            self.bar.set_style(style);
            self.bar.reset();
        }
        self.bar.set_length(u64::from(p.total));
        self.bar.set_position(u64::from(p.done));
        self.bar.tick();
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

pub fn ingest(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    project: Option<String>,
) -> Result<(), Failure> {
    let names = match project {
        Some(name) => vec![name],
        None => atelier
            .project_list(who)
            .map_err(|e| out.fail(&e))?
            .into_iter()
            .map(|p| p.name)
            .collect(),
    };
    if names.is_empty() {
        return Err(out.fail(&Error::invalid(
            "project",
            "there are no projects; add one with `atelier projects add PATH`",
        )));
    }
    let mut reports = Vec::new();
    for name in names {
        let mut progress = Progress::new(out);
        let report = atelier.ingest(who, &name, &mut |p| progress.update(p));
        progress.finish();
        reports.push(report.map_err(|e| out.fail(&e))?);
    }
    out.show(&reports, |r| {
        r.iter().map(ingest_summary).collect::<Vec<_>>().join("\n")
    });
    Ok(())
}

fn ingest_summary(r: &IngestReport) -> String {
    let mut s = format!(
        "{}: {} files — {} added, {} changed, {} unchanged, {} removed ({} renamed); {} passages written, {} embedded",
        r.project,
        r.files,
        r.added,
        r.changed,
        r.unchanged,
        r.removed,
        r.renamed,
        r.chunks_written,
        r.embedded
    );
    if r.unembedded > 0 {
        let _ = write!(s, ", {} waiting for vectors", r.unembedded);
    }
    if r.dangling_links > 0 {
        let _ = write!(s, "; {} dangling links", r.dangling_links);
    }
    for skipped in &r.skipped {
        let _ = write!(
            s,
            "\n  skipped {} ({}): {}{}",
            skipped.count,
            skipped.description,
            skipped.examples.join(", "),
            if skipped.count as usize > skipped.examples.len() {
                ", …"
            } else {
                ""
            }
        );
    }
    for path in &r.frontmatter_errors {
        let _ = write!(
            s,
            "\n  frontmatter is not valid YAML (body still read): {path}"
        );
    }
    if let Some(problem) = &r.embedding_problem {
        let _ = write!(s, "\n  vectors not computed: {problem}");
    }
    let t = r.timings;
    let _ = write!(
        s,
        "\n  time: scan {} ms, read {} ms, write {} ms, embed {} ms, graph {} ms, vectors {} ms",
        t.scan, t.read, t.write, t.embed, t.graph, t.vectors
    );
    s
}

pub fn search(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    args: SearchArgs,
) -> Result<(), Failure> {
    let request = SearchRequest {
        query: args.query,
        mode: args.mode,
        filter: SearchFilter {
            project: args.project,
            path: args.path,
            tag: args.tag,
            kind: args.kind,
        },
        limit: Some(args.limit),
        all_words: args.all_words,
        passages: args.passages,
        explain: args.explain,
    };
    let hits = atelier.search(who, request).map_err(|e| out.fail(&e))?;
    let explain = args.explain;
    out.show(&hits, |h| render_hits(h, explain));
    Ok(())
}

/// One line saying where a hit stood in each list and what its words matched.
fn explanation(e: &Explanation) -> String {
    let place =
        |name: &str, p: &Option<Placing>| p.map(|p| format!("{name} #{} ({:.4})", p.rank, p.score));
    let mut parts: Vec<String> = [
        place("words", &e.words),
        place("meaning", &e.meaning),
        place("fused", &e.fused),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !e.fields.is_empty() {
        let fields: Vec<String> = e
            .fields
            .iter()
            .map(|f| format!("{} {:.2}", f.field, f.score))
            .collect();
        parts.push(format!("fields: {}", fields.join(", ")));
    }
    parts.join("; ")
}

/// `atelier eval search`: reads the labels, judges search on them, prints the table.
pub fn eval_search(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    labels: &std::path::Path,
    project: Option<String>,
) -> Result<(), Failure> {
    let text = std::fs::read_to_string(labels).map_err(|e| {
        out.usage(
            "LABELS",
            &format!("cannot read {}: {}", labels.display(), e.kind()),
        )
    })?;
    let labels = eval::parse_labels(&text)
        .map_err(|problem| out.fail(&Error::invalid("labels", problem)))?;
    let report = atelier
        .search_eval(who, EvalRequest { labels, project })
        .map_err(|e| out.fail(&e))?;
    out.show(&report, render_eval);
    Ok(())
}

fn render_eval(report: &EvalReport) -> String {
    let mut s = format!(
        "{} questions over {} passages\n{:<14} {:>9} {:>9} {:>8} {:>10}\n",
        report.questions, report.passages, "", "recall@1", "recall@5", "MRR@10", "ms/query"
    );
    for row in &report.rows {
        let _ = writeln!(
            s,
            "{:<14} {:>9.3} {:>9.3} {:>8.3} {:>10.1}",
            row.name, row.recall_at_1, row.recall_at_5, row.mrr_at_10, row.ms_per_query
        );
    }
    if !report.misses.is_empty() {
        let _ = writeln!(s, "\nhybrid missed within five:");
        for (query, expected, got) in &report.misses {
            let _ = writeln!(
                s,
                "  {query}\n    expected {}; first {}",
                expected.join(" "),
                got.join(" ")
            );
        }
    }
    s
}

fn render_hits(hits: &[SearchHit], explain: bool) -> String {
    if hits.is_empty() {
        return "Nothing found.".to_owned();
    }
    let mut s = String::new();
    for (i, h) in hits.iter().enumerate() {
        let snippet: String = h
            .marked_snippet("[", "]")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            s,
            "{}. {}:{} lines {}–{}  ({:.4}){}\n   {}\n   {snippet}",
            i + 1,
            h.source.project,
            h.source.path,
            h.source.lines.0,
            h.source.lines.1,
            h.score,
            match (h.text_rank, h.vector_rank) {
                (Some(t), Some(v)) => format!(" words #{t}, meaning #{v}"),
                (Some(t), None) => format!(" words #{t}"),
                (None, Some(v)) => format!(" meaning #{v}"),
                (None, None) => String::new(),
            },
            if h.source.heading.is_empty() {
                &h.source.title
            } else {
                &h.source.heading
            },
        );
        for other in &h.others {
            let _ = writeln!(
                s,
                "   also lines {}–{}  {}",
                other.lines.0,
                other.lines.1,
                if other.heading.is_empty() {
                    &h.source.title
                } else {
                    &other.heading
                }
            );
        }
        if explain {
            let _ = writeln!(s, "   why: {}", explanation(&h.explain));
        }
    }
    s
}

pub fn render_document(d: &DocumentView) -> String {
    let doc = &d.document;
    let mut s = format!(
        "#{} {}\n{}:{} ({:?}, {} bytes, {} passages)\nFile: {}\n",
        doc.id, doc.title, doc.project, doc.path, doc.kind, d.size, d.chunks, d.file
    );
    if let Some(media) = &d.media {
        let _ = writeln!(s, "Media: {}", media.describe());
    }
    if !d.tags.is_empty() {
        let _ = writeln!(s, "Tags: {}", d.tags.join(", "));
    }
    if !d.aliases.is_empty() {
        let _ = writeln!(s, "Aliases: {}", d.aliases.join(", "));
    }
    if d.frontmatter != "{}" {
        let _ = writeln!(s, "Frontmatter: {}", d.frontmatter);
    }
    let _ = writeln!(s, "Links ({}):", d.links.len());
    for l in &d.links {
        let to = match &l.resolved {
            Some(t) => format!("→ #{} {}", t.id, t.path),
            None => "→ (dangling)".to_owned(),
        };
        let heading = l
            .heading
            .as_deref()
            .map(|h| format!("#{h}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  line {:>4}  {:<8} {}{heading}  {to}",
            l.line, l.form, l.target
        );
    }
    let _ = writeln!(s, "Backlinks ({}):", d.backlinks.len());
    for b in &d.backlinks {
        let _ = writeln!(s, "  #{} {} (line {})", b.source.id, b.source.path, b.line);
    }
    s
}

pub fn render_text(t: &DocumentText) -> String {
    let doc = &t.document;
    let mut s = format!("#{} {}\n{}:{}\n", doc.id, doc.title, doc.project, doc.path);
    if let Some(media) = &t.media {
        let _ = writeln!(s, "Media: {}", media.describe());
    }
    if t.passages.is_empty() {
        s.push_str("(no text)\n");
    }
    // A PDF's passages are numbered by page, a note's by line.
    let unit = if doc.kind == DocumentKind::Pdf {
        "pages"
    } else {
        "lines"
    };
    for p in &t.passages {
        let _ = writeln!(
            s,
            "\n[{unit} {}–{}] {}\n{}",
            p.lines.0, p.lines.1, p.heading, p.body
        );
    }
    s
}

pub fn render_related(list: &[RelatedDocument]) -> String {
    if list.is_empty() {
        return "Nothing related found.".to_owned();
    }
    let mut s = String::new();
    for r in list {
        let why: Vec<String> = r
            .reasons
            .iter()
            .map(|reason| match reason {
                RelatedReason::LinksTo => "linked from here".to_owned(),
                RelatedReason::LinkedFrom => "links here".to_owned(),
                RelatedReason::Embeds => "embedded here".to_owned(),
                RelatedReason::EmbeddedIn => "embeds this".to_owned(),
                RelatedReason::Similar { score } => format!("similar ({score:.2})"),
                RelatedReason::SharedTags { tags } => format!("shares #{}", tags.join(" #")),
            })
            .collect();
        let _ = writeln!(
            s,
            "#{:<5} {}:{}  — {}",
            r.document.id,
            r.document.project,
            r.document.path,
            why.join("; ")
        );
    }
    s
}

pub fn watch(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    projects: &[String],
    poll: Option<u64>,
) -> Result<(), Failure> {
    let options = WatchOptions {
        force_polling: poll.is_some(),
        rescan_every: poll.map_or(WatchOptions::default().rescan_every, |s| {
            Duration::from_secs(s.max(1))
        }),
        ..WatchOptions::default()
    };
    // Runs until the process is interrupted (in the vault's owner, until this process goes
    // away); every sync is its own transaction, so stopping at any moment loses nothing.
    let mut progress = Progress::new(out);
    atelier
        .watch(
            who,
            projects,
            options,
            &mut |outcome| report_watch(out, &outcome),
            &mut |p| progress.update(p),
        )
        .map_err(|e| out.fail(&e))
}

fn report_watch(out: &Out, outcome: &WatchOutcome) {
    let (json, text) = match outcome {
        WatchOutcome::Started(names) => (
            serde_json::json!({"event": "started", "projects": names}),
            format!("Watching {} (Ctrl-C stops).", names.join(", ")),
        ),
        WatchOutcome::Notice(text) => (
            serde_json::json!({"event": "notice", "message": text}),
            text.clone(),
        ),
        WatchOutcome::Synced {
            project,
            paths,
            tasks,
            report,
        } => (
            serde_json::json!({"event": "synced", "project": project, "paths": paths, "tasks": tasks, "report": report}),
            {
                let mut s = match report {
                    Some(r) => ingest_summary(r),
                    None => format!("{project}: no ingest rule matched"),
                };
                if !tasks.is_empty() {
                    let _ = write!(s, "\n  created tasks {tasks:?}");
                }
                s
            },
        ),
        WatchOutcome::Failed { project, error } => (
            serde_json::json!({"event": "failed", "project": project, "error": {"code": error.code(), "message": error.to_string()}}),
            format!("{project}: error[{}]: {error}", error.code()),
        ),
    };
    if out.json {
        // One JSON object per line, so a reader can follow the stream.
        render::line(&json.to_string());
    } else {
        render::line(&text);
    }
}

pub fn hooks(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: HookCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        HookCommand::Add {
            project,
            glob,
            action,
            template,
        } => {
            let view = atelier
                .hook_add(
                    who,
                    HookAdd {
                        project,
                        glob,
                        action,
                        template,
                    },
                )
                .map_err(fail)?;
            out.show(&view, |h| {
                format!("Added hook rule {}: {}", h.id, hook_line(h))
            });
        }
        HookCommand::Ls { project } => {
            let list = atelier.hook_list(who, project.as_deref()).map_err(fail)?;
            out.show(&list, |l| {
                if l.is_empty() {
                    "No hook rules: every changed file of a watched project is ingested.".to_owned()
                } else {
                    l.iter()
                        .map(|h| format!("{:>4}  {}", h.id, hook_line(h)))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            });
        }
        HookCommand::Rm { id } => {
            let view = atelier.hook_remove(who, id).map_err(fail)?;
            out.show(&view, |h| {
                format!("Removed hook rule {}: {}", h.id, hook_line(h))
            });
        }
    }
    Ok(())
}

fn hook_line(h: &HookView) -> String {
    match (&h.action, &h.template) {
        (HookAction::Task, Some(t)) => format!("{} {} → task \"{t}\"", h.project, h.glob),
        _ => format!("{} {} → ingest", h.project, h.glob),
    }
}

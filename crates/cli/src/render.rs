//! Human-readable output, and the only place that writes to stdout/stderr.
//!
//! Writes go through `writeln!` and ignore errors, so `atelier … | head` never panics on a
//! closed pipe.

use atelier_core::access::audit::{Event, Verification};
use atelier_core::access::roles::{Role, RoleSource};
use atelier_core::api::{GrantView, InitReport, Status, TaskDetail, TaskPlan, TaskTreeNode};
use atelier_core::catalog::{CanonBlock, Shape};
use atelier_core::clock::format_rfc3339;
use atelier_core::tasks::Task;
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write as _;

/// Prints one block of text to stdout.
pub fn line(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", text.trim_end());
}

/// Writes text as it streams in (a model's output), flushed at once, with no newline added.
pub fn streamed(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "{text}");
    let _ = stdout.flush();
}

/// Asks `question` on stderr, leaving the cursor on its line for the answer.
pub fn question(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "{text}");
    let _ = stderr.flush();
}

/// Prints a message to stderr.
pub fn error(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Prints `value` as pretty JSON to stdout.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => line(&text),
        Err(_) => error("error: the result could not be encoded as JSON"),
    }
}

pub fn init(report: &InitReport) -> String {
    let mut s = String::new();
    if report.created {
        let _ = writeln!(s, "Created a vault at {}", report.vault);
    } else {
        let _ = writeln!(s, "Repaired the vault at {}", report.vault);
    }
    for item in &report.written {
        let _ = writeln!(s, "  + {item}");
    }
    if report.created {
        let _ = write!(s, "Next: atelier tasks add \"My first task\"");
    }
    s
}

pub fn status(status: &Status) -> String {
    let mut s = format!("Vault:   {}\n", status.vault);
    match &status.sealed {
        Some(reason) => {
            let _ = write!(s, "State:   sealed\nWhy:     {reason}");
        }
        None => {
            let _ = writeln!(
                s,
                "State:   open (schema {})",
                status.schema_version.unwrap_or(0)
            );
            if let Some(c) = &status.counts {
                let _ = writeln!(
                    s,
                    "Tasks:   {} ({} ready)\nCanon:   {}\nShapes:  {}\nRoles:   {}\nGrants:  {}\nAudit:   {}",
                    c.tasks, c.ready, c.canon_blocks, c.shapes, c.roles, c.grants, c.audit_events
                );
            }
            if let Some(g) = &status.graph {
                match (&g.problem, g.applied_through) {
                    (Some(p), _) => {
                        let _ = write!(s, "Graph:   unavailable ({p})");
                    }
                    (None, Some(through)) if through >= g.outbox_head => {
                        let _ = write!(s, "Graph:   in sync");
                    }
                    (None, through) => {
                        let _ = write!(
                            s,
                            "Graph:   {} changes behind",
                            g.outbox_head - through.unwrap_or(0)
                        );
                    }
                }
            }
            if let Some(keychain) = &status.keychain {
                let _ = write!(s, "\nKeychain: {keychain}");
            }
            if let Some(w) = &status.work {
                let _ = write!(
                    s,
                    "\nWork:    {} orchestration(s) running; {} task(s) in progress, {} waiting for approval, {} blocked; {} run(s) in flight\nQueue:   {} ready, {} waiting, {} held by a worker, {} dead letter(s)",
                    w.orchestrations,
                    w.running_tasks,
                    w.waiting_for_approval,
                    w.blocked_tasks,
                    w.runs_in_flight,
                    w.queue.ready,
                    w.queue.waiting,
                    w.queue.leased,
                    w.queue.dead
                );
            }
            if let Some(switch) = &status.kill_switch {
                let _ = write!(
                    s,
                    "\nKill switch: ON (by {}{}); `atelier resume` turns it off",
                    switch.by,
                    if switch.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", switch.reason)
                    }
                );
            }
        }
    }
    s
}

fn state_chip(task: &Task) -> String {
    format!("[{}]", task.state)
}

pub fn task_table(tasks: &[Task]) -> String {
    if tasks.is_empty() {
        return "No tasks.".to_owned();
    }
    let mut s = format!(
        "{:>5}  {:<13}  {:>3}  {:<16}  {}\n",
        "ID", "STATE", "PRI", "ROLE", "TITLE"
    );
    for t in tasks {
        let _ = writeln!(
            s,
            "{:>5}  {:<13}  {:>3}  {:<16}  {}",
            t.id,
            t.state.name(),
            t.priority,
            t.role.as_deref().unwrap_or("-"),
            t.title
        );
    }
    s
}

pub fn task_tree(nodes: &[TaskTreeNode]) -> String {
    fn walk(s: &mut String, nodes: &[TaskTreeNode], prefix: &str) {
        for (i, node) in nodes.iter().enumerate() {
            let last = i + 1 == nodes.len();
            let branch = if prefix.is_empty() {
                ""
            } else if last {
                "└─ "
            } else {
                "├─ "
            };
            let _ = writeln!(
                s,
                "{prefix}{branch}{} {} {}{}",
                node.task.id,
                state_chip(&node.task),
                node.task.title,
                node.task
                    .role
                    .as_ref()
                    .map(|r| format!("  ({r})"))
                    .unwrap_or_default()
            );
            let child_prefix = if prefix.is_empty() {
                "   ".to_owned()
            } else if last {
                format!("{prefix}   ")
            } else {
                format!("{prefix}│  ")
            };
            walk(s, &node.children, &child_prefix);
        }
    }
    if nodes.is_empty() {
        return "No tasks yet. Create one with: atelier tasks add \"Title\"".to_owned();
    }
    let mut s = String::new();
    walk(&mut s, nodes, "");
    s
}

/// A duration for people: "850 ms", "4.2 s", "3 min 5 s".
fn took(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1_000),
    }
}

/// The plan by step: `*` marks the critical path, `~` an estimated duration.
pub fn task_plan(plan: &TaskPlan) -> String {
    let mut nodes: Vec<_> = plan.nodes.iter().collect();
    nodes.sort_by_key(|n| (n.column, n.task.id));
    let title = |id: i64| {
        plan.nodes
            .iter()
            .find(|n| n.task.id == id)
            .map_or_else(String::new, |n| n.task.title.clone())
    };
    let mut s = format!(
        "Plan of task {} ({}): the critical path takes {}; {} of it is left.\n",
        plan.root,
        title(plan.root),
        took(plan.length_ms),
        took(plan.remaining_ms)
    );
    let _ = writeln!(
        s,
        "{:>4}  {:>5}  {:<13}  {:>10}  {:<12}  TITLE",
        "STEP", "ID", "STATE", "WORK", "WAITS ON"
    );
    for n in nodes {
        let work = if n.container {
            "-".to_owned()
        } else if n.measured {
            took(n.work_ms)
        } else {
            format!("~{}", took(n.work_ms))
        };
        let waits: Vec<i64> = plan
            .edges
            .iter()
            .filter(|e| e.to == n.task.id)
            .map(|e| e.from)
            .collect();
        let _ = writeln!(
            s,
            "{:>4}  {:>5}  {:<13}  {:>10}  {:<12}  {}{}{}",
            n.column,
            n.task.id,
            n.task.state.to_string(),
            work,
            ids(&waits),
            if n.critical { "* " } else { "  " },
            n.task.title,
            if n.outside {
                "  (outside this plan)"
            } else {
                ""
            }
        );
    }
    let path: Vec<String> = plan
        .critical_path
        .iter()
        .map(|id| format!("{id} {}", title(*id)))
        .collect();
    let _ = write!(
        s,
        "Critical path: {}",
        if path.is_empty() {
            "none".to_owned()
        } else {
            path.join(" → ")
        }
    );
    if !plan.stuck.is_empty() {
        let _ = write!(
            s,
            "\nStuck (they wait on themselves through their parents): {}",
            ids(&plan.stuck)
        );
    }
    s
}

fn ids(list: &[i64]) -> String {
    if list.is_empty() {
        "-".to_owned()
    } else {
        list.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub fn task_detail(d: &TaskDetail) -> String {
    let t = &d.task;
    let mut s = format!("Task {}: {}\n", t.id, t.title);
    let _ = writeln!(s, "  state:        {}", t.state);
    if let Some(reason) = &t.reason {
        let _ = writeln!(s, "  reason:       {reason}");
    }
    let _ = writeln!(
        s,
        "  parent:       {}",
        t.parent_id.map_or("-".to_owned(), |p| p.to_string())
    );
    let _ = writeln!(s, "  role:         {}", t.role.as_deref().unwrap_or("-"));
    let _ = writeln!(s, "  play:         {}", t.play.as_deref().unwrap_or("-"));
    let _ = writeln!(s, "  priority:     {}", t.priority);
    let _ = writeln!(s, "  children:     {}", ids(&d.children));
    let _ = writeln!(s, "  depends on:   {}", ids(&d.depends_on));
    let _ = writeln!(s, "  all upstream: {}", ids(&d.transitive_dependencies));
    let _ = writeln!(s, "  blocked by:   {}", ids(&d.blocked_by));
    let _ = writeln!(s, "  dependents:   {}", ids(&d.dependents));
    let actions: Vec<&str> = d.allowed_actions.iter().map(|a| a.name()).collect();
    let _ = writeln!(
        s,
        "  next actions: {}",
        if actions.is_empty() {
            "-".to_owned()
        } else {
            actions.join(", ")
        }
    );
    let _ = writeln!(s, "  created:      {}", format_rfc3339(t.created_at));
    let _ = writeln!(s, "  updated:      {}", format_rfc3339(t.updated_at));
    if !t.description.is_empty() {
        let _ = write!(s, "\n{}", t.description);
    }
    s
}

pub fn role_tree(roles: &[Role]) -> String {
    /// Each role as (indented name, role), parents before their children.
    fn walk<'a>(
        roles: &'a [Role],
        parent: Option<&str>,
        depth: usize,
        out: &mut Vec<(String, &'a Role)>,
    ) {
        for role in roles.iter().filter(|r| r.extends.as_deref() == parent) {
            out.push((format!("{}{}", "  ".repeat(depth), role.name), role));
            walk(roles, Some(&role.name), depth + 1, out);
        }
    }
    let mut rows = Vec::new();
    walk(roles, None, 0, &mut rows);
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(name, role)| {
            let caps: Vec<&str> = role.capabilities.iter().map(|c| c.name()).collect();
            format!(
                "{name:<width$}  {:<32}  {}",
                role.display_name,
                caps.join(" ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn role(r: &Role) -> String {
    let inherited = |field: &str| {
        if r.inherited.iter().any(|f| f == field) {
            "  (inherited)"
        } else {
            ""
        }
    };
    let mut s = format!("{} — {}\n", r.name, r.display_name);
    let _ = writeln!(s, "  extends:      {}", r.extends.as_deref().unwrap_or("-"));
    let source = match r.source {
        RoleSource::Shipped => "shipped with Atelier",
        RoleSource::Vault => "the vault's roles/",
    };
    let _ = writeln!(s, "  source:       {} ({source})", r.file);
    let _ = writeln!(
        s,
        "  description:  {}{}",
        r.description,
        inherited("description")
    );
    let caps: Vec<String> = r
        .capabilities
        .iter()
        .map(|c| {
            if r.additional_capabilities.contains(c) {
                format!("{c} (added)")
            } else {
                c.to_string()
            }
        })
        .collect();
    let _ = writeln!(
        s,
        "  capabilities: {}{}",
        caps.join(", "),
        inherited("capabilities")
    );
    let restrictions: Vec<String> = r.restrictions.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        s,
        "  restrictions: {}",
        if restrictions.is_empty() {
            "-".to_owned()
        } else {
            restrictions.join(", ")
        }
    );
    let _ = writeln!(
        s,
        "  preferred:    {}{}",
        r.preferred_llm.as_deref().unwrap_or("-"),
        inherited("preferred_llm")
    );
    let _ = writeln!(
        s,
        "  fallbacks:    {}{}",
        r.fallback_llms.join(", "),
        inherited("fallback_llms")
    );
    let _ = writeln!(s, "  context:      {}", r.context_requirements.join(", "));
    let _ = writeln!(s, "  validation:   {}", r.validation_rules.join(", "));
    let _ = write!(
        s,
        "\n{}{}",
        r.system_prompt.trim_end(),
        inherited("system_prompt")
    );
    s
}

pub fn canon_table(blocks: &[CanonBlock]) -> String {
    if blocks.is_empty() {
        return "No canon blocks.".to_owned();
    }
    let mut s = format!("{:>5}  {:<9}  {:<30}  {}\n", "ID", "TIER", "TITLE", "TAGS");
    for b in blocks {
        let _ = writeln!(
            s,
            "{:>5}  {:<9}  {:<30}  {}",
            b.id,
            b.tier.name(),
            b.title,
            b.tags.join(" ")
        );
    }
    s
}

pub fn canon(b: &CanonBlock) -> String {
    format!(
        "Canon block {}: {}\n  tier: {}\n  tags: {}\n  updated: {}\n\n{}",
        b.id,
        b.title,
        b.tier.name(),
        b.tags.join(", "),
        format_rfc3339(b.updated_at),
        b.body
    )
}

pub fn shape_table(shapes: &[Shape]) -> String {
    if shapes.is_empty() {
        return "No shapes.".to_owned();
    }
    let mut s = format!("{:<24}  {:<11}  {}\n", "NAME", "KIND", "DESCRIPTION");
    for sh in shapes {
        let _ = writeln!(
            s,
            "{:<24}  {:<11}  {}",
            sh.name,
            sh.kind.name(),
            sh.description
        );
    }
    s
}

pub fn shape(sh: &Shape) -> String {
    let mut s = format!("Shape {} ({})\n", sh.name, sh.kind.name());
    if !sh.description.is_empty() {
        let _ = writeln!(s, "  {}", sh.description);
    }
    if !sh.required_sections.is_empty() {
        let _ = writeln!(
            s,
            "  required sections: {}",
            sh.required_sections.join(", ")
        );
    }
    let _ = write!(s, "\n{}", sh.body);
    s
}

pub fn grant_line(g: &GrantView) -> String {
    format!(
        "{} {}{}{} [{}]",
        g.grant.principal,
        g.grant.capability,
        g.grant
            .scope
            .as_ref()
            .map(|s| format!(" on {s}"))
            .unwrap_or_default(),
        g.grant
            .expires_at
            .map(|at| format!(" until {}", format_rfc3339(at)))
            .unwrap_or_default(),
        g.status
    )
}

pub fn grant_table(grants: &[GrantView]) -> String {
    if grants.is_empty() {
        return "No grants. Everyone but the owner is denied by default.".to_owned();
    }
    grants
        .iter()
        .map(|g| format!("{:>5}  {}", g.grant.id, grant_line(g)))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn audit(events: &[Event]) -> String {
    if events.is_empty() {
        return "No audit events.".to_owned();
    }
    events
        .iter()
        .map(|e| {
            format!(
                "{:>6}  {}  {:<20}  {:<22}  {}",
                e.seq,
                format_rfc3339(e.at),
                e.principal,
                e.action,
                e.summary
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn verification(v: &Verification) -> String {
    match (v.first_bad_seq, &v.problem) {
        (None, _) => format!("The audit chain is intact: {} events verified.", v.events),
        (Some(seq), problem) => format!(
            "The audit chain is broken at event {seq}: {}",
            problem.as_deref().unwrap_or("unknown problem")
        ),
    }
}

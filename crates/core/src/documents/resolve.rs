//! Resolving links to documents the way Obsidian does: case-insensitive; a wikilink names a
//! note by the shortest path that is unique (`[[Note]]`, `[[Dir/Note]]`), with or without
//! `.md`, or by one of its aliases; a Markdown link is a path relative to the linking note.
//! When a name is ambiguous the note in the linking note's folder wins, then the one nearest
//! the root, then the first by path.

use super::markdown::LinkForm;
use std::collections::HashMap;

/// A document links can point at.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its id.
    pub id: i64,
    /// Its path relative to the project root, `/`-separated.
    pub path: String,
    /// Its aliases.
    pub aliases: Vec<String>,
}

/// An index of one project's documents for resolving links.
#[derive(Debug, Default)]
pub struct Resolver {
    targets: Vec<Target>,
    /// Lowercased path, and lowercased path without `.md`, to target.
    by_path: HashMap<String, usize>,
    /// Lowercased last component (and without `.md`) to targets.
    by_name: HashMap<String, Vec<usize>>,
    /// Lowercased alias to targets.
    by_alias: HashMap<String, Vec<usize>>,
}

impl Resolver {
    /// Indexes `targets`.
    pub fn new(targets: Vec<Target>) -> Self {
        let mut resolver = Resolver::default();
        for (index, target) in targets.iter().enumerate() {
            let lower = target.path.to_lowercase();
            let name = lower.rsplit('/').next().unwrap_or(&lower).to_owned();
            if let Some(stem) = lower.strip_suffix(".md") {
                resolver.by_path.insert(stem.to_owned(), index);
                let short = name.strip_suffix(".md").unwrap_or(&name).to_owned();
                resolver.by_name.entry(short).or_default().push(index);
            }
            resolver.by_path.insert(lower, index);
            resolver.by_name.entry(name).or_default().push(index);
            for alias in &target.aliases {
                resolver
                    .by_alias
                    .entry(alias.trim().to_lowercase())
                    .or_default()
                    .push(index);
            }
        }
        resolver.targets = targets;
        resolver
    }

    /// The document `target` (as written in a link of `form` in the document at `source`)
    /// points at, if any.
    pub fn resolve(&self, form: LinkForm, target: &str, source: &str) -> Option<i64> {
        let source_dir = source.rsplit_once('/').map_or("", |(dir, _)| dir);
        if target.trim().is_empty() {
            // `[[#Heading]]` points into the linking note itself.
            return self
                .by_path
                .get(&source.to_lowercase())
                .map(|i| self.targets[*i].id);
        }
        // A Markdown link is relative to its note; so is an embed when it names a path that
        // exists there (`![alt](img.png)` is an embed too), else it is read as a wikilink.
        if form != LinkForm::Wikilink {
            let joined = if target.starts_with('/') {
                normalize(target)
            } else {
                normalize(&format!("{source_dir}/{target}"))
            };
            if let Some(found) = joined
                .as_ref()
                .and_then(|j| self.by_path.get(&j.to_lowercase()))
            {
                return Some(self.targets[*found].id);
            }
            if form == LinkForm::Markdown && joined.is_none() {
                return None;
            }
        }
        let key = target
            .trim()
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_lowercase();
        let key = normalize(&key)?;
        if let Some(found) = self.by_path.get(&key) {
            return Some(self.targets[*found].id);
        }
        let name = key.rsplit('/').next().unwrap_or(&key);
        let suffix = format!("/{key}");
        let matches: Vec<usize> = self
            .by_name
            .get(name)
            .map(|candidates| {
                candidates
                    .iter()
                    .copied()
                    .filter(|i| {
                        let path = self.targets[*i].path.to_lowercase();
                        let stem = path.strip_suffix(".md").unwrap_or(&path);
                        !key.contains('/') || stem.ends_with(&suffix) || path.ends_with(&suffix)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(best) = self.nearest(&matches, source_dir) {
            return Some(best);
        }
        if !key.contains('/')
            && let Some(aliased) = self.by_alias.get(&key)
        {
            return self.nearest(aliased, source_dir);
        }
        None
    }

    fn nearest(&self, candidates: &[usize], source_dir: &str) -> Option<i64> {
        candidates
            .iter()
            .map(|i| &self.targets[*i])
            .min_by_key(|t| {
                let dir = t.path.rsplit_once('/').map_or("", |(d, _)| d);
                (
                    dir != source_dir,
                    t.path.matches('/').count(),
                    t.path.clone(),
                )
            })
            .map(|t| t.id)
    }
}

/// Resolves `.` and `..` in a `/`-separated relative path; `None` when it climbs out of the
/// root.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> Resolver {
        let target = |id, path: &str, aliases: &[&str]| Target {
            id,
            path: path.to_owned(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        };
        Resolver::new(vec![
            target(1, "Characters/Mara.md", &["The Keeper"]),
            target(2, "Places/Lighthouse.md", &[]),
            target(3, "Drafts/Lighthouse.md", &[]),
            target(4, "notes.txt", &[]),
            target(5, "index.md", &[]),
        ])
    }

    #[test]
    fn wikilinks_resolve_by_unique_name_path_suffix_case_and_alias() {
        let r = resolver();
        let wiki = |t: &str, from: &str| r.resolve(LinkForm::Wikilink, t, from);
        assert_eq!(wiki("Mara", "index.md"), Some(1));
        assert_eq!(wiki("mara.md", "index.md"), Some(1));
        assert_eq!(wiki("characters/MARA", "index.md"), Some(1));
        assert_eq!(wiki("the keeper", "index.md"), Some(1));
        assert_eq!(wiki("notes.txt", "index.md"), Some(4));
        assert_eq!(wiki("Drafts/Lighthouse", "index.md"), Some(3));
        assert_eq!(wiki("Nowhere", "index.md"), None);
        assert_eq!(wiki("", "index.md"), Some(5));
    }

    #[test]
    fn an_ambiguous_name_prefers_the_linking_notes_folder_then_the_first_path() {
        let r = resolver();
        assert_eq!(
            r.resolve(LinkForm::Wikilink, "Lighthouse", "Places/Tour.md"),
            Some(2)
        );
        assert_eq!(
            r.resolve(LinkForm::Wikilink, "Lighthouse", "Drafts/x.md"),
            Some(3)
        );
        assert_eq!(
            r.resolve(LinkForm::Wikilink, "Lighthouse", "index.md"),
            Some(3)
        );
    }

    #[test]
    fn markdown_links_are_relative_to_the_linking_note_and_cannot_climb_out() {
        let r = resolver();
        let md = |t: &str, from: &str| r.resolve(LinkForm::Markdown, t, from);
        assert_eq!(md("../Places/Lighthouse.md", "Characters/Mara.md"), Some(2));
        assert_eq!(md("Mara.md", "Characters/x.md"), Some(1));
        assert_eq!(md("../../../etc/passwd", "Characters/Mara.md"), None);
    }
}

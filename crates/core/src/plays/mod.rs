//! Plays (the seeds' blueprints): versioned YAML workflows of model calls. `spec` parses and
//! checks a file, `template` renders its task templates, `assemble` builds each step's ASSET
//! prompt, `gates` checks outputs against expectations.
//!
//! Shipped plays are embedded in the binary; a file of the same name in the vault's `plays/`
//! replaces one, any other name adds one.

pub mod adhoc;
pub mod assemble;
pub mod gates;
pub mod spec;
pub mod template;

pub use spec::{Play, PlayProblem};
use std::collections::BTreeMap;
use std::path::Path;

/// The plays shipped inside the binary: (file name, text).
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "character_bible.yaml",
        include_str!("../../plays/character_bible.yaml"),
    ),
    (
        "scene_outline.yaml",
        include_str!("../../plays/scene_outline.yaml"),
    ),
    (
        "quest_design.yaml",
        include_str!("../../plays/quest_design.yaml"),
    ),
    (
        "episode_show_notes.yaml",
        include_str!("../../plays/episode_show_notes.yaml"),
    ),
    ("plan.yaml", include_str!("../../plays/plan.yaml")),
];

/// Where a play came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum PlaySource {
    /// Embedded in the binary.
    Shipped,
    /// The vault's `plays/` directory.
    Vault,
    /// Put together in the workbench for one run.
    Adhoc,
}

/// A play, its source and its text (a run pins the text).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedPlay {
    /// The parsed play.
    pub play: Play,
    /// Where it came from.
    pub source: PlaySource,
    /// The file's text.
    pub text: String,
}

/// Every play: the shipped ones with the vault's overrides and additions.
#[derive(Debug, Clone, Default)]
pub struct PlaySet {
    plays: BTreeMap<String, LoadedPlay>,
}

impl PlaySet {
    /// Loads the shipped plays, then `dir`'s `*.yaml` files over them. Every problem of every
    /// file is returned, not just the first.
    pub fn load(dir: Option<&Path>) -> Result<PlaySet, Vec<PlayProblem>> {
        let mut files: Vec<(String, String, PlaySource)> = SHIPPED
            .iter()
            .map(|(f, t)| ((*f).to_owned(), (*t).to_owned(), PlaySource::Shipped))
            .collect();
        let mut problems = Vec::new();
        if let Some(dir) = dir {
            match std::fs::read_dir(dir) {
                Ok(entries) => {
                    let mut names: Vec<String> = entries
                        .filter_map(|e| e.ok())
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|n| n.ends_with(".yaml"))
                        .collect();
                    names.sort();
                    for name in names {
                        match std::fs::read_to_string(dir.join(&name)) {
                            Ok(text) => {
                                files.retain(|(f, _, _)| *f != name);
                                files.push((name, text, PlaySource::Vault));
                            }
                            Err(e) => problems.push(PlayProblem {
                                file: format!("plays/{name}"),
                                line: 0,
                                message: format!("cannot be read ({})", e.kind()),
                            }),
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => problems.push(PlayProblem {
                    file: "plays/".to_owned(),
                    line: 0,
                    message: format!("cannot be read ({})", e.kind()),
                }),
            }
        }
        let mut plays = BTreeMap::new();
        for (file, text, source) in files {
            let shown = match source {
                PlaySource::Shipped | PlaySource::Adhoc => file.clone(),
                PlaySource::Vault => format!("plays/{file}"),
            };
            match spec::parse(&shown, &text) {
                Ok(play) => {
                    plays.insert(play.name.clone(), LoadedPlay { play, source, text });
                }
                Err(p) => problems.push(p),
            }
        }
        if problems.is_empty() {
            Ok(PlaySet { plays })
        } else {
            Err(problems)
        }
    }

    /// The play named `name`.
    pub fn get(&self, name: &str) -> Option<&LoadedPlay> {
        self.plays.get(name)
    }

    /// Every play, by name.
    pub fn iter(&self) -> impl Iterator<Item = &LoadedPlay> {
        self.plays.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_plays_parse() {
        let set = PlaySet::load(None).expect("shipped plays");
        assert_eq!(set.iter().count(), SHIPPED.len());
        let domains: std::collections::BTreeSet<&str> =
            set.iter().map(|p| p.play.domain.as_str()).collect();
        for domain in ["writing", "game_design", "podcasting"] {
            assert!(domains.contains(domain), "no {domain} play");
        }
    }
}

//! Roles (the seeds' "DAB"): YAML files with `extends:` inheritance, shipped and overridable.
//! Over 700 lines on purpose: the closed sets, the inheritance rule and the checks that name a
//! file and line are one table, read together; the tests are in `roles/tests.rs`.
//!
//! The inheritance rule, also in ARCHITECTURE.md:
//! - Text fields (`description`, `system_prompt`, `preferred_llm`, `fallback_llms`) are the
//!   child's own when given, else the parent's.
//! - `capabilities` omitted means "the parent's". Given, it is the child's whole set and must be
//!   a subset of the parent's: a child narrows by default. To hold a capability the parent lacks,
//!   the child must name it under `additional_capabilities`, so every widening is explicit.
//! - `restrictions`, `context_requirements` and `validation_rules` accumulate down the tree: a
//!   child cannot drop its parent's restrictions; where both set a numeric limit, the smaller wins.
//!
//! Errors name the file and the line.

use crate::access::auth::Capability;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

/// The roles shipped inside the binary: (file name, text).
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "orchestrator.yaml",
        include_str!("../../../../roles/orchestrator.yaml"),
    ),
    (
        "researcher.yaml",
        include_str!("../../../../roles/researcher.yaml"),
    ),
    (
        "code_researcher.yaml",
        include_str!("../../../../roles/code_researcher.yaml"),
    ),
    (
        "market_researcher.yaml",
        include_str!("../../../../roles/market_researcher.yaml"),
    ),
    (
        "implementer.yaml",
        include_str!("../../../../roles/implementer.yaml"),
    ),
    ("coder.yaml", include_str!("../../../../roles/coder.yaml")),
    (
        "designer.yaml",
        include_str!("../../../../roles/designer.yaml"),
    ),
    ("writer.yaml", include_str!("../../../../roles/writer.yaml")),
    (
        "validator.yaml",
        include_str!("../../../../roles/validator.yaml"),
    ),
    ("tester.yaml", include_str!("../../../../roles/tester.yaml")),
    (
        "reviewer.yaml",
        include_str!("../../../../roles/reviewer.yaml"),
    ),
    (
        "security_auditor.yaml",
        include_str!("../../../../roles/security_auditor.yaml"),
    ),
    (
        "coordinator.yaml",
        include_str!("../../../../roles/coordinator.yaml"),
    ),
    (
        "project_manager.yaml",
        include_str!("../../../../roles/project_manager.yaml"),
    ),
    (
        "release_manager.yaml",
        include_str!("../../../../roles/release_manager.yaml"),
    ),
];

/// A limit on what a role may do. A closed set: unknown names are errors. Serialized as
/// `name` or `name: value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(type = String))]
pub enum Restriction {
    /// At most this many files changed per task.
    MaxFileChanges(u32),
    /// At most this many subtasks spawned per task.
    MaxSpawnedTasks(u32),
    /// At most this many output tokens per model call.
    MaxOutputTokens(u32),
    /// Output must be a single code block.
    SingleCodeblockOnly,
    /// Must not change databases.
    NoDatabaseModifications,
    /// Must not reach the network beyond its model provider.
    NoNetwork,
    /// Must not delete files.
    NoFileDeletion,
}

/// The names of every restriction, for messages.
pub const RESTRICTION_NAMES: &[&str] = &[
    "max_file_changes",
    "max_spawned_tasks",
    "max_output_tokens",
    "single_codeblock_only",
    "no_database_modifications",
    "no_network",
    "no_file_deletion",
];

impl Restriction {
    /// The restriction's name.
    pub fn name(self) -> &'static str {
        match self {
            Restriction::MaxFileChanges(_) => "max_file_changes",
            Restriction::MaxSpawnedTasks(_) => "max_spawned_tasks",
            Restriction::MaxOutputTokens(_) => "max_output_tokens",
            Restriction::SingleCodeblockOnly => "single_codeblock_only",
            Restriction::NoDatabaseModifications => "no_database_modifications",
            Restriction::NoNetwork => "no_network",
            Restriction::NoFileDeletion => "no_file_deletion",
        }
    }

    fn limit(self) -> Option<u32> {
        match self {
            Restriction::MaxFileChanges(n)
            | Restriction::MaxSpawnedTasks(n)
            | Restriction::MaxOutputTokens(n) => Some(n),
            _ => None,
        }
    }

    /// Parses `name` or `name: value`. `Err` says what is wrong.
    fn parse(name: &str, value: Option<&str>) -> Result<Option<Restriction>, String> {
        let number = |v: Option<&str>| -> Result<u32, String> {
            v.and_then(|v| v.trim().parse::<u32>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("restriction `{name}` needs a whole number above 0"))
        };
        let flag = |v: Option<&str>| -> Result<bool, String> {
            match v.map(str::trim) {
                None | Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(_) => Err(format!("restriction `{name}` takes true or false")),
            }
        };
        let on = |set: bool, r: Restriction| if set { Some(r) } else { None };
        Ok(match name.trim() {
            "max_file_changes" => Some(Restriction::MaxFileChanges(number(value)?)),
            "max_spawned_tasks" => Some(Restriction::MaxSpawnedTasks(number(value)?)),
            "max_output_tokens" => Some(Restriction::MaxOutputTokens(number(value)?)),
            "single_codeblock_only" => on(flag(value)?, Restriction::SingleCodeblockOnly),
            "no_database_modifications" => on(flag(value)?, Restriction::NoDatabaseModifications),
            "no_network" => on(flag(value)?, Restriction::NoNetwork),
            "no_file_deletion" => on(flag(value)?, Restriction::NoFileDeletion),
            other => {
                return Err(format!(
                    "unknown restriction `{other}` (known: {})",
                    RESTRICTION_NAMES.join(", ")
                ));
            }
        })
    }
}

impl fmt::Display for Restriction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.limit() {
            Some(n) => write!(f, "{}: {n}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

impl Serialize for Restriction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Reads the text form [`Serialize`] writes (`name` or `name: value`).
impl<'de> Deserialize<'de> for Restriction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (name, value) = match text.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (text.as_str(), None),
        };
        Restriction::parse(name, value)
            .and_then(|r| r.ok_or_else(|| format!("restriction `{text}` is switched off")))
            .map_err(serde::de::Error::custom)
    }
}

/// Where a role's definition came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum RoleSource {
    /// Shipped inside the binary.
    Shipped,
    /// A file in the vault's `roles/` directory.
    Vault,
}

/// A role with inheritance resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Role {
    /// Unique name, equal to its file stem.
    pub name: String,
    /// Parent role.
    pub extends: Option<String>,
    /// Name for people.
    pub display_name: String,
    /// What it is for.
    pub description: String,
    /// The Assistant of ASSET.
    pub system_prompt: String,
    /// `provider:model` tried first.
    pub preferred_llm: Option<String>,
    /// Tried in order after the preferred one.
    pub fallback_llms: Vec<String>,
    /// Effective capabilities.
    pub capabilities: BTreeSet<Capability>,
    /// Capabilities gained beyond the parent's, explicitly.
    pub additional_capabilities: BTreeSet<Capability>,
    /// Effective restrictions.
    pub restrictions: Vec<Restriction>,
    /// Context the role needs.
    pub context_requirements: Vec<String>,
    /// Checks on its output.
    pub validation_rules: Vec<String>,
    /// Fields whose value came from an ancestor rather than this role's own file.
    pub inherited: Vec<String>,
    /// Shipped or from the vault.
    pub source: RoleSource,
    /// File it was read from.
    pub file: String,
}

/// One problem found in a role file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RoleProblem {
    /// File name (relative).
    pub file: String,
    /// 1-based line; 0 when unknown.
    pub line: usize,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl fmt::Display for RoleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    name: String,
    #[serde(default)]
    extends: Option<String>,
    display_name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    system_prompt: Option<String>,
    #[serde(default)]
    preferred_llm: Option<String>,
    #[serde(default)]
    fallback_llms: Option<Vec<String>>,
    #[serde(default)]
    capabilities: Option<Vec<String>>,
    #[serde(default)]
    additional_capabilities: Vec<String>,
    #[serde(default)]
    restrictions: Vec<serde_yaml_ng::Value>,
    #[serde(default)]
    context_requirements: Vec<String>,
    #[serde(default)]
    validation_rules: Vec<String>,
}

/// A role file that parsed, before inheritance.
#[derive(Debug)]
struct Parsed {
    file: String,
    text: String,
    source: RoleSource,
    raw: RoleFile,
    capabilities: Option<BTreeSet<Capability>>,
    additional: BTreeSet<Capability>,
    restrictions: Vec<Restriction>,
}

/// The loaded, resolved roles, by name.
#[derive(Debug, Clone, Default)]
pub struct RoleSet {
    roles: BTreeMap<String, Role>,
}

impl RoleSet {
    /// The shipped roles, overlaid by `*.yaml` files in `overrides` (a vault's `roles/`) when it
    /// exists: a file with a shipped role's name replaces it, others add roles.
    pub fn load(overrides: Option<&Path>) -> Result<RoleSet, Vec<RoleProblem>> {
        let mut sources: Vec<(String, String, RoleSource)> = SHIPPED
            .iter()
            .map(|(file, text)| ((*file).to_owned(), (*text).to_owned(), RoleSource::Shipped))
            .collect();
        let mut problems = Vec::new();
        if let Some(dir) = overrides.filter(|d| d.is_dir()) {
            match read_role_dir(dir) {
                Ok(files) => {
                    for (name, text) in files {
                        sources.retain(|(file, _, _)| *file != name);
                        sources.push((name, text, RoleSource::Vault));
                    }
                }
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Self::from_sources(sources)
    }

    /// Resolves a set of (file, text, source) role definitions.
    fn from_sources(
        sources: Vec<(String, String, RoleSource)>,
    ) -> Result<RoleSet, Vec<RoleProblem>> {
        let mut problems = Vec::new();
        let mut parsed: BTreeMap<String, Parsed> = BTreeMap::new();
        for (file, text, source) in sources {
            match parse_file(&file, &text, source) {
                Ok(p) => {
                    if let Some(existing) = parsed.get(&p.raw.name) {
                        problems.push(RoleProblem {
                            line: line_of_key(&p.text, "name"),
                            message: format!(
                                "role `{}` is also defined in {}",
                                p.raw.name, existing.file
                            ),
                            file: p.file,
                        });
                    } else {
                        parsed.insert(p.raw.name.clone(), p);
                    }
                }
                Err(problem) => problems.push(problem),
            }
        }
        let mut resolved: BTreeMap<String, Role> = BTreeMap::new();
        let names: Vec<String> = parsed.keys().cloned().collect();
        for name in names {
            let mut chain = Vec::new();
            if let Err(problem) = resolve(&name, &parsed, &mut resolved, &mut chain)
                && !problems.contains(&problem)
            {
                problems.push(problem);
            }
        }
        if problems.is_empty() {
            Ok(RoleSet { roles: resolved })
        } else {
            Err(problems)
        }
    }

    /// Validates a directory of role files as it would overlay the shipped roles.
    pub fn check_dir(dir: &Path) -> Result<RoleSet, Vec<RoleProblem>> {
        if !dir.is_dir() {
            return Err(vec![RoleProblem {
                file: dir.display().to_string(),
                line: 0,
                message: "not a directory".to_owned(),
            }]);
        }
        Self::load(Some(dir))
    }

    /// A role by name.
    pub fn get(&self, name: &str) -> Option<&Role> {
        self.roles.get(name)
    }

    /// Every role, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    /// How many roles.
    pub fn len(&self) -> usize {
        self.roles.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }
}

fn read_role_dir(dir: &Path) -> Result<Vec<(String, String)>, RoleProblem> {
    let problem = |message: String| RoleProblem {
        file: "roles/".to_owned(),
        line: 0,
        message,
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| problem(format!("cannot list: {}", e.kind())))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| problem(format!("cannot list: {}", e.kind())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".yaml") || name.starts_with('.') {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).map_err(|e| RoleProblem {
            file: name.clone(),
            line: 0,
            message: format!("cannot read: {}", e.kind()),
        })?;
        files.push((name, text));
    }
    files.sort();
    Ok(files)
}

fn parse_file(file: &str, text: &str, source: RoleSource) -> Result<Parsed, RoleProblem> {
    let problem = |line: usize, message: String| RoleProblem {
        file: file.to_owned(),
        line,
        message,
    };
    if text.contains('\0') {
        return Err(problem(0, "the file contains a NUL byte".to_owned()));
    }
    let raw: RoleFile = serde_yaml_ng::from_str(text).map_err(|e| {
        let (line, message) = crate::input::yaml_problem(&e);
        problem(line, message)
    })?;
    let stem = file.strip_suffix(".yaml").unwrap_or(file);
    if raw.name != stem {
        return Err(problem(
            line_of_key(text, "name"),
            format!(
                "the role is named `{}` but its file is {file}; they must match",
                raw.name
            ),
        ));
    }
    if !valid_role_name(&raw.name) {
        return Err(problem(
            line_of_key(text, "name"),
            "a role name uses lowercase letters, digits and `_`, at most 64".to_owned(),
        ));
    }
    if raw.display_name.trim().is_empty() {
        return Err(problem(
            line_of_key(text, "display_name"),
            "display_name is empty".to_owned(),
        ));
    }
    for (key, value) in [("preferred_llm", raw.preferred_llm.as_deref())] {
        if let Some(v) = value {
            check_model_ref(v).map_err(|m| problem(line_of_key(text, key), m))?;
        }
    }
    for model in raw.fallback_llms.iter().flatten() {
        check_model_ref(model)
            .map_err(|m| problem(line_of_item(text, "fallback_llms", model), m))?;
    }
    let caps = |key: &str, list: &[String]| -> Result<BTreeSet<Capability>, RoleProblem> {
        list.iter()
            .map(|c| {
                c.parse::<Capability>().map_err(|()| {
                    problem(
                        line_of_item(text, key, c),
                        format!(
                            "unknown capability `{c}` (known: {})",
                            Capability::ALL.map(Capability::name).join(", ")
                        ),
                    )
                })
            })
            .collect()
    };
    let capabilities = raw
        .capabilities
        .as_deref()
        .map(|list| caps("capabilities", list))
        .transpose()?;
    let additional = caps("additional_capabilities", &raw.additional_capabilities)?;
    let mut restrictions = Vec::new();
    for entry in &raw.restrictions {
        let (name, value) = restriction_parts(entry).ok_or_else(|| {
            problem(
                line_of_key(text, "restrictions"),
                "a restriction is `name` or `name: value`".to_owned(),
            )
        })?;
        let parsed = Restriction::parse(&name, value.as_deref())
            .map_err(|m| problem(line_of_item(text, "restrictions", name.trim()), m))?;
        restrictions.extend(parsed);
    }
    Ok(Parsed {
        file: file.to_owned(),
        text: text.to_owned(),
        source,
        raw,
        capabilities,
        additional,
        restrictions,
    })
}

fn restriction_parts(entry: &serde_yaml_ng::Value) -> Option<(String, Option<String>)> {
    use serde_yaml_ng::Value;
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match entry {
        Value::String(s) => Some(match s.split_once(':') {
            Some((name, value)) => (name.trim().to_owned(), Some(value.trim().to_owned())),
            None => (s.trim().to_owned(), None),
        }),
        Value::Mapping(map) if map.len() == 1 => {
            let (k, v) = map.iter().next()?;
            Some((scalar(k)?, Some(scalar(v)?)))
        }
        _ => None,
    }
}

fn check_model_ref(model: &str) -> Result<(), String> {
    match model.split_once(':') {
        Some((provider, name)) if !provider.trim().is_empty() && !name.trim().is_empty() => Ok(()),
        _ => Err(format!(
            "model `{model}` should be written `provider:model`"
        )),
    }
}

fn valid_role_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn resolve(
    name: &str,
    parsed: &BTreeMap<String, Parsed>,
    resolved: &mut BTreeMap<String, Role>,
    chain: &mut Vec<String>,
) -> Result<(), RoleProblem> {
    if resolved.contains_key(name) {
        return Ok(());
    }
    let Some(me) = parsed.get(name) else {
        return Ok(());
    };
    let problem = |line: usize, message: String| RoleProblem {
        file: me.file.clone(),
        line,
        message,
    };
    if chain.iter().any(|c| c == name) {
        chain.push(name.to_owned());
        return Err(problem(
            line_of_key(&me.text, "extends"),
            format!("`extends` makes a cycle: {}", chain.join(" → ")),
        ));
    }
    let parent = match &me.raw.extends {
        None => None,
        Some(parent_name) => {
            if !parsed.contains_key(parent_name) {
                return Err(problem(
                    line_of_key(&me.text, "extends"),
                    format!("extends unknown role `{parent_name}`"),
                ));
            }
            chain.push(name.to_owned());
            resolve(parent_name, parsed, resolved, chain)?;
            chain.pop();
            resolved.get(parent_name).cloned()
        }
    };
    let mut inherited = Vec::new();
    let raw = &me.raw;
    let mut pick_text = |field: &'static str,
                         own: &Option<String>,
                         from_parent: Option<&String>| {
        match (own, from_parent) {
            (Some(v), _) => v.clone(),
            (None, Some(p)) => {
                inherited.push(field.to_owned());
                p.clone()
            }
            (None, None) => String::new(),
        }
    };
    let description = pick_text(
        "description",
        &raw.description,
        parent.as_ref().map(|p| &p.description),
    );
    let system_prompt = pick_text(
        "system_prompt",
        &raw.system_prompt,
        parent.as_ref().map(|p| &p.system_prompt),
    );
    let preferred_llm = match (&raw.preferred_llm, &parent) {
        (Some(v), _) => Some(v.clone()),
        (None, Some(p)) => {
            if p.preferred_llm.is_some() {
                inherited.push("preferred_llm".to_owned());
            }
            p.preferred_llm.clone()
        }
        (None, None) => None,
    };
    let fallback_llms = match (&raw.fallback_llms, &parent) {
        (Some(v), _) => v.clone(),
        (None, Some(p)) => {
            if !p.fallback_llms.is_empty() {
                inherited.push("fallback_llms".to_owned());
            }
            p.fallback_llms.clone()
        }
        (None, None) => Vec::new(),
    };
    let parent_caps = parent.as_ref().map(|p| p.capabilities.clone());
    let mut capabilities = match (&me.capabilities, &parent_caps) {
        (Some(own), Some(from_parent)) => {
            if let Some(extra) = own.iter().find(|c| !from_parent.contains(c)) {
                return Err(problem(
                    line_of_item(&me.text, "capabilities", extra.name()),
                    format!(
                        "capability `{extra}` is not held by parent `{}`; to gain it, list it under `additional_capabilities` instead",
                        raw.extends.as_deref().unwrap_or_default()
                    ),
                ));
            }
            own.clone()
        }
        (Some(own), None) => own.clone(),
        (None, Some(from_parent)) => {
            inherited.push("capabilities".to_owned());
            from_parent.clone()
        }
        (None, None) => BTreeSet::new(),
    };
    capabilities.extend(me.additional.iter().copied());
    let restrictions = merge_restrictions(
        parent
            .as_ref()
            .map(|p| p.restrictions.as_slice())
            .unwrap_or_default(),
        &me.restrictions,
    );
    let union = |from_parent: Option<&Vec<String>>, own: &Vec<String>| {
        let mut out: Vec<String> = from_parent.cloned().unwrap_or_default();
        for item in own {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
        out
    };
    let role = Role {
        name: raw.name.clone(),
        extends: raw.extends.clone(),
        display_name: raw.display_name.clone(),
        description,
        system_prompt,
        preferred_llm,
        fallback_llms,
        capabilities,
        additional_capabilities: me.additional.clone(),
        restrictions,
        context_requirements: union(
            parent.as_ref().map(|p| &p.context_requirements),
            &raw.context_requirements,
        ),
        validation_rules: union(
            parent.as_ref().map(|p| &p.validation_rules),
            &raw.validation_rules,
        ),
        inherited,
        source: me.source,
        file: me.file.clone(),
    };
    resolved.insert(name.to_owned(), role);
    Ok(())
}

/// Parent's restrictions plus the child's; for the same numeric limit, the smaller wins.
fn merge_restrictions(parent: &[Restriction], own: &[Restriction]) -> Vec<Restriction> {
    let mut out: Vec<Restriction> = Vec::new();
    for r in parent.iter().chain(own) {
        match out.iter_mut().find(|x| x.name() == r.name()) {
            Some(existing) => {
                if let (Some(a), Some(b)) = (existing.limit(), r.limit())
                    && b < a
                {
                    *existing = *r;
                }
            }
            None => out.push(*r),
        }
    }
    out
}

/// The 1-based line of the first top-level `key:` in `text`, 0 if absent.
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(key) && l[key.len()..].trim_start().starts_with(':'))
        .map_or(0, |i| i + 1)
}

/// The 1-based line where `item` appears in the list under `key`, falling back to the key.
fn line_of_item(text: &str, key: &str, item: &str) -> usize {
    let start = line_of_key(text, key);
    if start == 0 {
        return 0;
    }
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    for (i, line) in text.lines().enumerate().skip(start - 1) {
        if i >= start && !line.starts_with([' ', '\t', '-']) && !line.trim().is_empty() {
            break;
        }
        let mut from = 0;
        while let Some(pos) = line[from..].find(item) {
            let at = from + pos;
            let before = line[..at].chars().next_back();
            let after = line[at + item.len()..].chars().next();
            if before.is_none_or(|c| !is_token_char(c)) && after.is_none_or(|c| !is_token_char(c)) {
                return i + 1;
            }
            from = at + item.len();
        }
    }
    start
}

#[cfg(test)]
mod tests;

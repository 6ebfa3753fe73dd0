//! Reading a text file into what the vault keeps of it: title, frontmatter, tags, aliases,
//! links and heading-delimited sections. Markdown gets the full treatment (YAML frontmatter,
//! ATX and setext headings, Obsidian wikilinks and embeds, local Markdown links, inline
//! `#tags`); Org and Fountain get their headings; other kinds are one untitled section.

use super::DocumentKind;
use serde_json::{Map, Value};

/// A file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// Frontmatter `title`, else the first level-1 heading, else the file's stem.
    pub title: String,
    /// Every frontmatter key, as JSON.
    pub frontmatter: Map<String, Value>,
    /// Frontmatter and inline tags, without `#`, lowercased, sorted, unique.
    pub tags: Vec<String>,
    /// Frontmatter `aliases` (or `alias`).
    pub aliases: Vec<String>,
    /// Links in the order written.
    pub links: Vec<Link>,
    /// The text split at headings, in order.
    pub sections: Vec<Section>,
    /// Frontmatter that did not parse as YAML, kept so the user can be told.
    pub frontmatter_error: Option<String>,
}

/// How a link was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkForm {
    /// `[[Note]]`, `[[Note|label]]`, `[[Note#Heading]]`.
    Wikilink,
    /// `![[Note]]`.
    Embed,
    /// `[label](path/to/note.md)`.
    Markdown,
}

impl LinkForm {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkForm::Wikilink => "wikilink",
            LinkForm::Embed => "embed",
            LinkForm::Markdown => "markdown",
        }
    }
}

/// One link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// How it was written.
    pub form: LinkForm,
    /// The target as written, without heading or label (a Markdown link's path URL-decoded).
    pub target: String,
    /// The `#Heading` part, if any.
    pub heading: Option<String>,
    /// The `|label` or `[label]`, if any.
    pub label: Option<String>,
    /// 1-based line.
    pub line: usize,
}

/// The text under one heading, up to the next heading of any level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The headings above and including this one's, outermost first; empty before the first.
    pub headings: Vec<String>,
    /// 1-based line of the first line of the section (its heading, if any).
    pub start_line: usize,
    /// The section's lines, heading included.
    pub lines: Vec<String>,
}

/// Reads `text` of a file of `kind` whose stem is `stem`.
pub fn parse(text: &str, kind: DocumentKind, stem: &str) -> Parsed {
    let lines: Vec<&str> = text.lines().collect();
    let (frontmatter, frontmatter_error, body_start) = if kind == DocumentKind::Markdown {
        split_frontmatter(&lines)
    } else {
        (Map::new(), None, 0)
    };
    let mut tags = string_list(frontmatter.get("tags").or_else(|| frontmatter.get("tag")));
    let aliases = string_list(
        frontmatter
            .get("aliases")
            .or_else(|| frontmatter.get("alias")),
    );
    let mut links = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut current = Section {
        headings: Vec::new(),
        start_line: body_start + 1,
        lines: Vec::new(),
    };
    // Heading text by level (index 0 = level 1).
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut first_h1 = None;
    let mut fence: Option<(char, usize)> = None;
    let mut index = body_start;
    while index < lines.len() {
        let line = lines[index];
        let number = index + 1;
        if kind == DocumentKind::Markdown {
            if let Some(open) = fence {
                if closes_fence(line, open) {
                    fence = None;
                }
                current.lines.push(line.to_owned());
                index += 1;
                continue;
            }
            if let Some(open) = opens_fence(line) {
                fence = Some(open);
                current.lines.push(line.to_owned());
                index += 1;
                continue;
            }
        }
        let setext = (kind == DocumentKind::Markdown)
            .then(|| {
                lines
                    .get(index + 1)
                    .and_then(|next| setext_level(line, next))
            })
            .flatten();
        let heading = match setext {
            Some(level) => Some((level, line.trim().to_owned())),
            None => heading_of(line, kind),
        };
        if let Some((level, title)) = heading {
            if level == 1 && first_h1.is_none() {
                first_h1 = Some(title.clone());
            }
            if !current.lines.is_empty() {
                sections.push(current);
            }
            stack.retain(|(l, _)| *l < level);
            stack.push((level, title));
            current = Section {
                headings: stack.iter().map(|(_, t)| t.clone()).collect(),
                start_line: number,
                lines: vec![line.to_owned()],
            };
            if setext.is_some() {
                current.lines.push(lines[index + 1].to_owned());
                index += 1;
            }
            index += 1;
            continue;
        }
        if kind == DocumentKind::Markdown {
            let prose = without_inline_code(line);
            scan_links(&prose, number, &mut links);
            scan_tags(&prose, &mut tags);
        }
        current.lines.push(line.to_owned());
        index += 1;
    }
    if !current.lines.is_empty() || sections.is_empty() {
        sections.push(current);
    }
    for tag in &mut tags {
        *tag = tag.trim_start_matches('#').to_lowercase();
    }
    tags.retain(|t| !t.is_empty());
    tags.sort();
    tags.dedup();
    let title = frontmatter
        .get("title")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .or(first_h1)
        .unwrap_or_else(|| stem.to_owned());
    Parsed {
        title,
        frontmatter,
        tags,
        aliases,
        links,
        sections,
        frontmatter_error,
    }
}

/// Splits a leading `---` … `---` (or `...`) block off; answers it as JSON, a parse error if
/// any, and the index of the first body line.
fn split_frontmatter(lines: &[&str]) -> (Map<String, Value>, Option<String>, usize) {
    if lines.first().map(|l| l.trim_end()) != Some("---") {
        return (Map::new(), None, 0);
    }
    let Some(end) = lines
        .iter()
        .skip(1)
        .position(|l| matches!(l.trim_end(), "---" | "..."))
        .map(|p| p + 1)
    else {
        return (Map::new(), None, 0);
    };
    let yaml = lines[1..end].join("\n");
    if yaml.trim().is_empty() {
        return (Map::new(), None, end + 1);
    }
    match serde_yaml_ng::from_str::<Value>(&yaml) {
        Ok(Value::Object(map)) => (map, None, end + 1),
        Ok(_) => (
            Map::new(),
            Some("frontmatter is not a mapping of keys to values".to_owned()),
            end + 1,
        ),
        Err(e) => (Map::new(), Some(e.to_string()), end + 1),
    }
}

/// A frontmatter value as a list of strings: a YAML list, or one string split on commas and
/// whitespace (Obsidian accepts both).
fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.trim().to_owned()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) => s
            .split([',', ' ', '\t'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn opens_fence(line: &str) -> Option<(char, usize)> {
    let trimmed = line.trim_start();
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let run = trimmed.chars().take_while(|c| *c == marker).count();
    (run >= 3).then_some((marker, run))
}

fn closes_fence(line: &str, (marker, run): (char, usize)) -> bool {
    let trimmed = line.trim();
    trimmed.chars().take_while(|c| *c == marker).count() >= run
        && trimmed.chars().all(|c| c == marker)
}

/// An ATX heading (`## Title`) in Markdown, a `** Title` in Org, a scene heading in Fountain.
fn heading_of(line: &str, kind: DocumentKind) -> Option<(usize, String)> {
    match kind {
        DocumentKind::Markdown => {
            let trimmed = line.trim_start();
            if line.len() - trimmed.len() > 3 {
                return None;
            }
            let level = trimmed.chars().take_while(|c| *c == '#').count();
            let rest = &trimmed[level..];
            if !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
                return None;
            }
            let title = rest.trim().trim_end_matches('#').trim_end();
            Some((level, title.to_owned()))
        }
        DocumentKind::Org => {
            let level = line.chars().take_while(|c| *c == '*').count();
            let rest = &line[level..];
            (level >= 1 && rest.starts_with(' ')).then(|| (level, rest.trim().to_owned()))
        }
        DocumentKind::Fountain => {
            let trimmed = line.trim();
            let upper = trimmed.to_uppercase();
            let scene = ["INT.", "EXT.", "INT/EXT", "I/E", "EST."]
                .iter()
                .any(|p| upper.starts_with(p))
                && trimmed == upper;
            let forced =
                trimmed.starts_with('.') && trimmed.len() > 1 && !trimmed.starts_with("..");
            (scene || forced).then(|| (1, trimmed.trim_start_matches('.').to_owned()))
        }
        // Attachments have no headings of their own: a canvas is read as Markdown, a PDF's
        // pages are its sections.
        DocumentKind::Text
        | DocumentKind::Rst
        | DocumentKind::Code
        | DocumentKind::Image
        | DocumentKind::Audio
        | DocumentKind::Video
        | DocumentKind::Pdf
        | DocumentKind::Canvas => None,
    }
}

/// A setext underline (`===` or `---`) under a non-empty paragraph line.
fn setext_level(line: &str, next: &str) -> Option<usize> {
    let text = line.trim();
    if text.is_empty() || heading_of(line, DocumentKind::Markdown).is_some() {
        return None;
    }
    let under = next.trim();
    if under.len() >= 2 && under.chars().all(|c| c == '=') {
        Some(1)
    } else if under.len() >= 2 && under.chars().all(|c| c == '-') && !line.starts_with([' ', '-']) {
        Some(2)
    } else {
        None
    }
}

/// The line with inline code spans blanked out, so links and tags inside them are not read.
fn without_inline_code(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let ticks = after.chars().take_while(|c| *c == '`').count();
        let closing = &after[ticks..];
        let marker = "`".repeat(ticks);
        match closing.find(&marker) {
            Some(end) => {
                out.push_str(&" ".repeat(ticks + end + ticks));
                rest = &closing[end + ticks..];
            }
            None => {
                out.push_str(after);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn scan_links(line: &str, number: usize, links: &mut Vec<Link>) {
    scan_links_counted(line, number, links);
}

/// The next place a fixed piece of text occurs in a line, for positions that only move
/// forward: each search starts where the last one's answer no longer holds, so the searches of
/// a whole line read each byte at most once (looking for `]]` afresh at every `[` reads the
/// rest of the line each time, hours for a long line of brackets).
struct NextMatch<'a> {
    line: &'a str,
    needle: &'static str,
    /// The last answer: `Some(None)` once the needle is known not to occur any more.
    known: Option<Option<usize>>,
    /// Bytes read by searches, for the test that bounds the work.
    read: usize,
}

impl<'a> NextMatch<'a> {
    fn new(line: &'a str, needle: &'static str) -> Self {
        NextMatch {
            line,
            needle,
            known: None,
            read: 0,
        }
    }

    /// Where the needle next starts at or after byte `from` (which never goes backwards).
    fn at_or_after(&mut self, from: usize) -> Option<usize> {
        match self.known {
            Some(None) => return None,
            Some(Some(at)) if at >= from => return Some(at),
            _ => {}
        }
        let rest = self.line.get(from..).unwrap_or("");
        let found = rest.find(self.needle).map(|offset| from + offset);
        self.read += found.map_or(rest.len(), |at| at + self.needle.len() - from);
        self.known = Some(found);
        found
    }
}

/// [`scan_links`], answering how much work it did (bytes the searches read plus positions
/// stepped over), which stays proportional to the line's length.
fn scan_links_counted(line: &str, number: usize, links: &mut Vec<Link>) -> usize {
    let bytes = line.as_bytes();
    let mut wiki_close = NextMatch::new(line, "]]");
    let mut label_close = NextMatch::new(line, "](");
    let mut bracket = NextMatch::new(line, "[");
    let mut paren = NextMatch::new(line, ")");
    let mut steps = 0;
    let mut i = 0;
    while i < bytes.len() {
        steps += 1;
        if bytes[i..].starts_with(b"[[") {
            let embed = i > 0 && bytes[i - 1] == b'!';
            if let Some(end) = wiki_close.at_or_after(i + 2) {
                if let Some(link) = wikilink(&line[i + 2..end], embed, number) {
                    links.push(link);
                }
                i = end + 2;
                continue;
            }
        }
        if bytes[i] == b'['
            && let Some(close) = label_close.at_or_after(i)
            // A label holds no `[`: the link starts at the last `[` before its `](`.
            && bracket.at_or_after(i + 1).is_none_or(|next| next > close)
            && let Some(end) = paren.at_or_after(close + 2)
            && let Some(link) = markdown_link(
                &line[i + 1..close],
                &line[close + 2..end],
                i > 0 && bytes[i - 1] == b'!',
                number,
            )
        {
            links.push(link);
            i = end + 1;
            continue;
        }
        i += line[i..].chars().next().map_or(1, char::len_utf8);
    }
    steps + wiki_close.read + label_close.read + bracket.read + paren.read
}

fn wikilink(inner: &str, embed: bool, line: usize) -> Option<Link> {
    // Inside a table row the label's pipe is escaped (`[[Page\|label]]`, `![[a.png\|300]]`)
    // so the table keeps its columns; Obsidian reads it as the plain pipe.
    let split = inner.split_once("\\|").or_else(|| inner.split_once('|'));
    let (target_part, label) = match split {
        Some((t, l)) => (t, Some(l.trim().to_owned()).filter(|l| !l.is_empty())),
        None => (inner, None),
    };
    let (target, heading) = match target_part.split_once('#') {
        Some((t, h)) => (t, Some(h.trim().to_owned()).filter(|h| !h.is_empty())),
        None => (target_part, None),
    };
    let target = target.trim();
    if target.is_empty() && heading.is_none() {
        return None;
    }
    Some(Link {
        form: if embed {
            LinkForm::Embed
        } else {
            LinkForm::Wikilink
        },
        target: target.to_owned(),
        heading,
        label,
        line,
    })
}

/// `[label](destination)` where the destination is a local path (no URL scheme), from its
/// label and the text between its parentheses; `![alt](destination)`, an image, is an embed
/// whose path is relative to the linking note all the same.
fn markdown_link(label: &str, inside: &str, embed: bool, line: usize) -> Option<Link> {
    let mut destination = inside.trim();
    // A title: `[x](path "title")`.
    if let Some((path, _)) = destination.split_once(" \"") {
        destination = path.trim();
    }
    let destination = destination.trim_start_matches('<').trim_end_matches('>');
    let has_scheme = destination.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    if destination.is_empty() || has_scheme || destination.starts_with('#') {
        return None;
    }
    let (path, heading) = match destination.split_once('#') {
        Some((p, h)) => (p, Some(percent_decode(h)).filter(|h| !h.is_empty())),
        None => (destination, None),
    };
    Some(Link {
        form: if embed {
            LinkForm::Embed
        } else {
            LinkForm::Markdown
        },
        target: percent_decode(path),
        heading,
        label: Some(label.trim().to_owned()).filter(|l| !l.is_empty()),
        line,
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Obsidian's inline tags: `#tag` after a space or at the start, letters, digits, `_ - /`,
/// not all digits.
fn scan_tags(line: &str, tags: &mut Vec<String>) {
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        if c == '#' && previous.is_whitespace() {
            let tag: String = line[i + 1..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '/'))
                .collect();
            if !tag.is_empty() && !tag.chars().all(|c| c.is_ascii_digit()) {
                tags.push(tag);
            }
        }
        previous = c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontmatter_keeps_every_key_and_reads_title_tags_and_aliases() {
        let text = "---\ntitle: The Lighthouse\ntags: [sea, Story]\naliases:\n  - Beacon\nrating: 4\n---\n# Heading one\nBody #draft text.\n";
        let parsed = parse(text, DocumentKind::Markdown, "lighthouse");
        assert_eq!(parsed.title, "The Lighthouse");
        assert_eq!(parsed.tags, ["draft", "sea", "story"]);
        assert_eq!(parsed.aliases, ["Beacon"]);
        assert_eq!(parsed.frontmatter["rating"], 4);
        assert_eq!(parsed.sections.len(), 1);
        assert_eq!(parsed.sections[0].start_line, 8);
        assert_eq!(parsed.sections[0].headings, ["Heading one"]);
    }

    /// Link scanning is linear (the hostile-reading finding: a line of 160,000 `[` took 15 s):
    /// on worst-case lines the work counted stays within a few steps per byte, and the links
    /// are still found.
    #[test]
    fn link_scanning_does_work_proportional_to_the_line() {
        let n = 160_000;
        let cases = [
            "[".repeat(n),
            "[[".repeat(n / 2),
            "![[".repeat(n / 3),
            "[a](".repeat(n / 4),
            "[a]".repeat(n / 3),
            format!("{}]]", "[[".repeat(n / 2)),
            format!("{}(x)", "](".repeat(n / 2)),
            format!("{}[[end]] [x](y.md)", "[a] ".repeat(n / 4)),
        ];
        for line in &cases {
            let mut links = Vec::new();
            let work = scan_links_counted(line, 1, &mut links);
            assert!(
                work <= 6 * line.len(),
                "{} bytes took {work} steps (starting {:?})",
                line.len(),
                &line[..12]
            );
        }
        let mut links = Vec::new();
        scan_links_counted(&cases[7], 1, &mut links);
        assert!(links.iter().any(|l| l.target == "end"), "{links:?}");
        assert!(links.iter().any(|l| l.target == "y.md"), "{links:?}");
    }

    /// A link as (form, target, heading, label, line).
    type LinkRow<'a> = (LinkForm, &'a str, Option<&'a str>, Option<&'a str>, usize);

    fn link_summary(parsed: &Parsed) -> Vec<LinkRow<'_>> {
        parsed
            .links
            .iter()
            .map(|l| {
                (
                    l.form,
                    l.target.as_str(),
                    l.heading.as_deref(),
                    l.label.as_deref(),
                    l.line,
                )
            })
            .collect()
    }

    #[test]
    fn every_wikilink_form_and_local_markdown_links_are_read_outside_code() {
        let text = "See [[Note]], [[Note|the note]], [[Dir/Note#Part two]] and ![[map.png]].\n\
                    A [local](../other%20file.md#Top) and [web](https://example.com).\n\
                    An image: ![the map](<maps/sea%20chart.png> \"Chart\"), ![web](https://x.org/a.png).\n\
                    `[[not a link]]`\n```\n[[also not]]\n```\n";
        let parsed = parse(text, DocumentKind::Markdown, "x");
        assert_eq!(
            link_summary(&parsed),
            [
                (LinkForm::Wikilink, "Note", None, None, 1),
                (LinkForm::Wikilink, "Note", None, Some("the note"), 1),
                (LinkForm::Wikilink, "Dir/Note", Some("Part two"), None, 1),
                (LinkForm::Embed, "map.png", None, None, 1),
                (
                    LinkForm::Markdown,
                    "../other file.md",
                    Some("Top"),
                    Some("local"),
                    2
                ),
                (
                    LinkForm::Embed,
                    "maps/sea chart.png",
                    None,
                    Some("the map"),
                    3
                ),
            ]
        );
    }

    #[test]
    fn wikilinks_in_table_rows_escape_their_pipe() {
        let text = "| Page | Picture |\n| --- | --- |\n| [[Sessions\\|the sessions]] | ![[map.png\\|300]] |\n\
                    | [[Notes#^block-1\\|a block]] | [[Dir/Note#Part two]] |\n";
        let parsed = parse(text, DocumentKind::Markdown, "x");
        assert_eq!(
            link_summary(&parsed),
            [
                (
                    LinkForm::Wikilink,
                    "Sessions",
                    None,
                    Some("the sessions"),
                    3
                ),
                (LinkForm::Embed, "map.png", None, Some("300"), 3),
                (
                    LinkForm::Wikilink,
                    "Notes",
                    Some("^block-1"),
                    Some("a block"),
                    4
                ),
                (LinkForm::Wikilink, "Dir/Note", Some("Part two"), None, 4),
            ]
        );
    }

    #[test]
    fn headings_nest_and_split_sections_but_not_inside_fences() {
        let text =
            "intro\n# A\none\n## B\ntwo\n```\n# not a heading\n```\n# C\nSetext\n---\nthree\n";
        let parsed = parse(text, DocumentKind::Markdown, "x");
        let heads: Vec<_> = parsed.sections.iter().map(|s| s.headings.clone()).collect();
        assert_eq!(
            heads,
            vec![
                vec![],
                vec!["A".to_owned()],
                vec!["A".to_owned(), "B".to_owned()],
                vec!["C".to_owned()],
                vec!["C".to_owned(), "Setext".to_owned()],
            ]
        );
        assert_eq!(parsed.title, "A");
    }

    #[test]
    fn broken_frontmatter_is_reported_and_the_body_still_read() {
        let parsed = parse(
            "---\ntitle: [unclosed\n---\nbody\n",
            DocumentKind::Markdown,
            "stem",
        );
        assert!(parsed.frontmatter_error.is_some());
        assert_eq!(parsed.title, "stem");
        assert_eq!(parsed.sections[0].lines, ["body"]);
    }

    #[test]
    fn org_and_fountain_headings() {
        let org = parse("* Top\ntext\n** Sub\nmore\n", DocumentKind::Org, "o");
        assert_eq!(org.sections.len(), 2);
        let fountain = parse(
            "INT. KITCHEN - NIGHT\nShe waits.\n\nEXT. PIER - DAY\nWaves.\n",
            DocumentKind::Fountain,
            "f",
        );
        assert_eq!(fountain.sections[1].headings, ["EXT. PIER - DAY"]);
    }
}

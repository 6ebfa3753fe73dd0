//! Heading-aware chunking: a section becomes one passage when it fits the embedding model's
//! window, else it is split at paragraphs, then lines, then words. A passage never crosses a
//! heading and never exceeds the window, counted with the model's own tokenizer.

use super::markdown::Section;

/// The model's window, special tokens included.
pub const MAX_TOKENS: usize = 256;

/// `[CLS]` and `[SEP]` take two places of the window.
const SPECIAL_TOKENS: usize = 2;

/// A context (title and heading path) longer than this share of the window is left out of the
/// embedded text (it is still stored and searchable), so the body keeps room.
const MAX_HEADING_SHARE: usize = 4;

/// Counts tokens the way the embedding model will.
pub trait TokenCount {
    /// Tokens in `text`, without special tokens.
    fn tokens(&self, text: &str) -> usize;
}

/// One passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// The heading path, `A > B`; empty before the first heading.
    pub heading: String,
    /// The passage's own text.
    pub body: String,
    /// Whether `text` starts with the passage's context, its document's title and heading path
    /// (left out when they are too long).
    pub embeds_heading: bool,
    /// What is embedded and hashed: the context then the body, see [`embedded_text`].
    pub text: String,
    /// Tokens of `text`, without special tokens.
    pub tokens: usize,
    /// 1-based first and last line.
    pub lines: (usize, usize),
}

/// Splits `sections` of the document titled `title` into passages of at most [`MAX_TOKENS`]
/// tokens (special tokens included).
pub fn passages(sections: &[Section], title: &str, counter: &dyn TokenCount) -> Vec<Passage> {
    passages_within(sections, title, counter, MAX_TOKENS - SPECIAL_TOKENS)
}

/// What a reader of a passage knows before its first word: the document's title, then the
/// headings above it (the title once when the first heading repeats it, as a level-1 heading
/// usually does).
pub fn context(title: &str, heading: &str) -> String {
    let title = title.trim();
    if title.is_empty() {
        heading.to_owned()
    } else if heading.is_empty() {
        title.to_owned()
    } else if heading == title || heading.starts_with(&format!("{title} > ")) {
        heading.to_owned()
    } else {
        format!("{title} > {heading}")
    }
}

fn passages_within(
    sections: &[Section],
    title: &str,
    counter: &dyn TokenCount,
    budget: usize,
) -> Vec<Passage> {
    let mut out = Vec::new();
    for section in sections {
        let heading = section.headings.join(" > ");
        let context = context(title, &heading);
        let mut prefix_tokens = if context.is_empty() {
            0
        } else {
            counter.tokens(&context)
        };
        let with_heading = prefix_tokens <= budget / MAX_HEADING_SHARE;
        if !with_heading {
            prefix_tokens = 0;
        }
        let room = budget - prefix_tokens;
        let mut builder = Builder {
            heading: &heading,
            context: &context,
            with_heading,
            prefix_tokens,
            room,
            lines: Vec::new(),
            tokens: 0,
            out: &mut out,
        };
        for paragraph in paragraphs(section) {
            let tokens: usize = paragraph.iter().map(|(_, l)| counter.tokens(l)).sum();
            if tokens <= room {
                builder.add(paragraph, tokens);
                continue;
            }
            // Too long for one passage: line by line, and a line too long word by word.
            for (number, line) in paragraph {
                let tokens = counter.tokens(&line);
                if tokens <= room {
                    builder.add(vec![(number, line)], tokens);
                    continue;
                }
                let mut piece = String::new();
                let mut piece_tokens = 0;
                for word in line.split_whitespace() {
                    let word_tokens = counter.tokens(word).min(room);
                    if piece_tokens + word_tokens > room && !piece.is_empty() {
                        builder.add(vec![(number, std::mem::take(&mut piece))], piece_tokens);
                        piece_tokens = 0;
                    }
                    if !piece.is_empty() {
                        piece.push(' ');
                    }
                    piece.push_str(word);
                    piece_tokens += word_tokens;
                }
                if !piece.is_empty() {
                    builder.add(vec![(number, piece)], piece_tokens);
                }
            }
        }
        builder.flush();
    }
    out
}

/// Accumulates lines into passages of at most `room` body tokens.
struct Builder<'a> {
    heading: &'a str,
    context: &'a str,
    with_heading: bool,
    prefix_tokens: usize,
    room: usize,
    lines: Vec<(usize, String)>,
    tokens: usize,
    out: &'a mut Vec<Passage>,
}

impl Builder<'_> {
    fn add(&mut self, lines: Vec<(usize, String)>, tokens: usize) {
        if self.tokens + tokens > self.room {
            self.flush();
        }
        if !self.lines.is_empty() {
            // Keep the paragraph break.
            self.lines.push((0, String::new()));
        }
        self.lines.extend(lines);
        self.tokens += tokens;
    }

    fn flush(&mut self) {
        let lines = std::mem::take(&mut self.lines);
        let tokens = std::mem::take(&mut self.tokens);
        let numbered: Vec<usize> = lines.iter().map(|(n, _)| *n).filter(|n| *n > 0).collect();
        let body = lines
            .into_iter()
            .map(|(_, l)| l)
            .collect::<Vec<_>>()
            .join("\n");
        if body.trim().is_empty() {
            return;
        }
        let embeds_heading = self.with_heading && !self.context.is_empty();
        let text = embedded_text(self.context, &body, embeds_heading);
        self.out.push(Passage {
            heading: self.heading.to_owned(),
            body,
            embeds_heading,
            text,
            tokens: tokens + self.prefix_tokens,
            lines: (
                numbered.first().copied().unwrap_or(0),
                numbered.last().copied().unwrap_or(0),
            ),
        });
    }
}

/// The text a passage is embedded and hashed as: its [`context`], a blank line, its body.
pub fn embedded_text(context: &str, body: &str, embeds_context: bool) -> String {
    if embeds_context {
        format!("{context}\n\n{body}")
    } else {
        body.to_owned()
    }
}

/// A section's non-blank lines grouped into paragraphs, each line with its 1-based number.
fn paragraphs(section: &Section) -> Vec<Vec<(usize, String)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for (offset, line) in section.lines.iter().enumerate() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push((section.start_line + offset, line.trim_end().to_owned()));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One token per whitespace-separated word: additive like WordPiece, easy to reason about.
    struct Words;
    impl TokenCount for Words {
        fn tokens(&self, text: &str) -> usize {
            text.split_whitespace().count()
        }
    }

    fn section(headings: &[&str], start: usize, lines: &[&str]) -> Section {
        Section {
            headings: headings.iter().map(|h| (*h).to_owned()).collect(),
            start_line: start,
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn a_small_section_is_one_passage_with_its_heading() {
        let out = passages(
            &[section(&["A", "B"], 3, &["## B", "", "two words"])],
            "A",
            &Words,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].heading, "A > B");
        assert_eq!(out[0].text, "A > B\n\n## B\n\ntwo words");
        assert_eq!(out[0].lines, (3, 5));
        assert_eq!(out[0].tokens, Words.tokens(&out[0].text));
    }

    #[test]
    fn long_sections_split_at_paragraphs_lines_and_words_within_the_budget() {
        let long_line = vec!["w"; 25].join(" ");
        let lines = ["p1 a b c", "", "p2 d e f g", "", &long_line];
        let out = passages_within(&[section(&["H"], 1, &lines)], "H", &Words, 10);
        assert!(out.len() >= 4, "{out:#?}");
        for p in &out {
            assert!(p.tokens <= 10, "{p:?}");
            assert_eq!(p.tokens, Words.tokens(&p.text));
            assert!(p.text.starts_with("H\n\n"));
        }
        let words: usize = out.iter().map(|p| Words.tokens(&p.body)).sum();
        assert_eq!(words, 4 + 5 + 25, "no word lost or repeated");
    }

    #[test]
    fn passages_never_cross_headings_and_blank_sections_vanish() {
        let out = passages(
            &[
                section(&[], 1, &["intro"]),
                section(&["A"], 2, &["# A", "a"]),
                section(&["B"], 4, &["", "  "]),
            ],
            "A",
            &Words,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].heading, "A");
    }

    #[test]
    fn a_passage_is_embedded_with_its_title_and_headings_once() {
        assert_eq!(context("Sessions", ""), "Sessions");
        assert_eq!(context("Sessions", "Sessions > Keys"), "Sessions > Keys");
        assert_eq!(context("config", "Secrets"), "config > Secrets");
        assert_eq!(context("", "Secrets"), "Secrets");
        let out = passages(
            &[section(&["Secrets"], 1, &["## Secrets", "x y"])],
            "config",
            &Words,
        );
        assert_eq!(
            out[0].heading, "Secrets",
            "the stored heading stays the heading path"
        );
        assert!(
            out[0].text.starts_with("config > Secrets\n\n"),
            "{:?}",
            out[0].text
        );
    }
}

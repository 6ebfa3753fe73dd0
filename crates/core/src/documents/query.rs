//! Reading what a user typed into words to look for: loose words (any may match, common
//! English words dropped so a question works) and quoted phrases (matched whole), as an FTS5
//! expression that no word can turn into an operator.

/// English words too common to say what a question is about ("why does my sidebar
/// disappear" is about a sidebar disappearing). Dropped from words outside quotes, unless a
/// query holds nothing else.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "because", "been", "before", "being", "both", "but", "by", "can", "could", "did", "do",
    "does", "doing", "done", "each", "either", "for", "from", "get", "gets", "had", "has", "have",
    "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is",
    "it", "its", "itself", "just", "let", "lets", "may", "me", "might", "more", "most", "much",
    "must", "my", "myself", "no", "nor", "not", "of", "off", "on", "once", "one", "only", "or",
    "other", "our", "ours", "out", "own", "same", "shall", "she", "should", "so", "some", "such",
    "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this",
    "those", "through", "to", "too", "up", "us", "very", "via", "want", "was", "we", "were",
    "what", "when", "where", "whether", "which", "while", "who", "whom", "why", "will", "with",
    "would", "you", "your", "yours",
];

/// The words of a text, lowercased: what [`Query`] reads a query into before it drops common
/// words.
pub fn terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A query for words: loose words (any may match) and quoted phrases (matched whole).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// Words outside quotes, common ones dropped (kept when there is nothing else).
    pub words: Vec<String>,
    /// Quoted phrases, each its words in order (common words kept: they are part of it).
    pub phrases: Vec<Vec<String>>,
    /// Whether every word and phrase must occur.
    pub every: bool,
}

impl Query {
    /// Reads `text`: `"…"` is a phrase; an unclosed quote runs to the end.
    pub fn parse(text: &str, every: bool) -> Query {
        let mut loose = String::new();
        let mut phrases = Vec::new();
        for (i, piece) in text.split('"').enumerate() {
            if i % 2 == 1 {
                let words = terms(piece);
                if !words.is_empty() {
                    phrases.push(words);
                }
            } else {
                loose.push(' ');
                loose.push_str(piece);
            }
        }
        let all = terms(&loose);
        let mut words: Vec<String> = all
            .iter()
            .filter(|w| !STOP_WORDS.contains(&w.as_str()))
            .cloned()
            .collect();
        if words.is_empty() && phrases.is_empty() {
            words = all;
        }
        let mut seen = std::collections::HashSet::new();
        words.retain(|w| seen.insert(w.clone()));
        Query {
            words,
            phrases,
            every,
        }
    }

    /// The FTS5 expression: each word and phrase quoted (so no word is read as an operator),
    /// joined by `OR`, or `AND` for every word. `None` when there is nothing to match.
    pub fn expression(&self) -> Option<String> {
        let parts: Vec<String> = self
            .words
            .iter()
            .map(|w| format!("\"{w}\""))
            .chain(self.phrases.iter().map(|p| format!("\"{}\"", p.join(" "))))
            .collect();
        (!parts.is_empty()).then(|| parts.join(if self.every { " AND " } else { " OR " }))
    }
}

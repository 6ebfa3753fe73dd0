//! Server-sent events as the three providers stream them: `field: value` lines, an event ended
//! by a blank line, `:` comments ignored (the WHATWG event-stream rules, minus `id`/`retry`,
//! which no provider here uses).
//!
//! Bytes arrive in arbitrary pieces from the socket, so a line (and a UTF-8 character) may be
//! split between two pushes; the parser keeps the unfinished tail.

/// One event: its `event:` name, if any, and its `data:` lines joined by newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field (Anthropic names every event; OpenAI and Gemini do not).
    pub event: Option<String>,
    /// The data lines, joined with `\n`.
    pub data: String,
}

/// A line longer than this without a newline is not an event stream.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// Why bytes are not an event stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line is not UTF-8.
    #[error("the stream is not UTF-8 text")]
    NotText,
    /// A line grew past the limit without ending.
    #[error("a stream line is longer than {MAX_LINE} bytes")]
    LineTooLong,
}

/// Incremental parser; feed it with [`SseParser::push`], end with [`SseParser::finish`].
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

impl SseParser {
    /// Takes the next bytes and returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            let bytes = &self.pending[start..end];
            let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            let line = std::str::from_utf8(bytes)
                .map_err(|_| SseError::NotText)?
                .to_owned();
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
            start = end + 1;
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_LINE {
            return Err(SseError::LineTooLong);
        }
        Ok(events)
    }

    /// Ends the stream: an event whose blank line never came is still delivered.
    pub fn finish(mut self) -> Result<Option<SseEvent>, SseError> {
        if !self.pending.is_empty() {
            let tail = std::mem::take(&mut self.pending);
            let line = std::str::from_utf8(&tail).map_err(|_| SseError::NotText)?;
            let line = line.strip_suffix('\r').unwrap_or(line).to_owned();
            if let Some(event) = self.line(&line) {
                return Ok(Some(event));
            }
        }
        Ok(self.dispatch())
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if self.data.is_empty() {
            return None;
        }
        Some(SseEvent {
            event,
            data: std::mem::take(&mut self.data).join("\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut out = Vec::new();
        for piece in pieces {
            out.extend(parser.push(piece).expect("push"));
        }
        out.extend(parser.finish().expect("finish"));
        out
    }

    fn data(text: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: text.to_owned(),
        }
    }

    #[test]
    fn events_end_at_blank_lines_and_keep_their_names() {
        let events = all(&[b"event: ping\ndata: {}\n\ndata: a\ndata: b\n\n"]);
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: Some("ping".to_owned()),
                    data: "{}".to_owned()
                },
                data("a\nb")
            ]
        );
    }

    #[test]
    fn lines_and_characters_split_between_reads_are_joined() {
        let text = "data: {\"t\":\"é\"}\r\n\r\n";
        let bytes = text.as_bytes();
        for cut in 1..bytes.len() {
            let events = all(&[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(events, vec![data("{\"t\":\"é\"}")], "cut at {cut}");
        }
    }

    #[test]
    fn comments_and_unknown_fields_are_ignored_and_a_last_event_without_blank_line_counts() {
        let events = all(&[b": keep-alive\nid: 7\nretry: 10\ndata:x"]);
        assert_eq!(events, vec![data("x")]);
    }

    #[test]
    fn bytes_that_are_not_text_are_an_error() {
        let mut parser = SseParser::default();
        assert_eq!(parser.push(b"data: \xff\n"), Err(SseError::NotText));
    }
}

//! Lines read with a bound: a peer that never sends a newline cannot make this process hold
//! more than [`MAX_LINE`] bytes of it (tokio's `read_line` grows its buffer without limit).

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The longest line read from a host or a socket peer: an MCP message or an api call with a
/// document's text in it fits many times over.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// One line, without its newline.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line of at most the bound, as text (invalid UTF-8 replaced).
    Text(String),
    /// A line over the bound; its bytes were read and dropped up to its newline.
    TooLong,
}

/// The lines of `reader`, each of at most `max` bytes. Cancel-safe, like tokio's `Lines`:
/// a line read halfway when [`BoundedLines::next_line`] is dropped (in a `select!`) is kept
/// here and finished by the next call.
#[derive(Debug)]
pub struct BoundedLines<R> {
    reader: R,
    max: usize,
    kept: Vec<u8>,
    over: bool,
    started: bool,
}

impl<R: AsyncBufRead + Unpin> BoundedLines<R> {
    /// Lines of at most `max` bytes from `reader`.
    pub fn new(reader: R, max: usize) -> Self {
        BoundedLines {
            reader,
            max,
            kept: Vec::new(),
            over: false,
            started: false,
        }
    }

    /// The next line; `None` at the end of the input. A longer line is consumed to its end
    /// without being kept, so the call after it starts at the following line.
    pub async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            let buffer = self.reader.fill_buf().await?;
            if buffer.is_empty() {
                return Ok(self.started.then(|| self.take()));
            }
            self.started = true;
            let (part, newline) = match buffer.iter().position(|b| *b == b'\n') {
                Some(at) => (&buffer[..at], true),
                None => (buffer, false),
            };
            if !self.over {
                if self.kept.len() + part.len() > self.max {
                    self.over = true;
                    self.kept = Vec::new();
                } else {
                    self.kept.extend_from_slice(part);
                }
            }
            let used = part.len() + usize::from(newline);
            self.reader.consume(used);
            if newline {
                return Ok(Some(self.take()));
            }
        }
    }

    /// The reader, with whatever it buffered after the last line.
    pub fn into_inner(self) -> R {
        self.reader
    }

    fn take(&mut self) -> Line {
        let mut kept = std::mem::take(&mut self.kept);
        let over = std::mem::replace(&mut self.over, false);
        self.started = false;
        if over {
            return Line::TooLong;
        }
        if kept.last() == Some(&b'\r') {
            kept.pop();
        }
        Line::Text(String::from_utf8_lossy(&kept).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    #[tokio::test]
    async fn lines_over_the_bound_are_dropped_whole_and_reading_goes_on() {
        let input = format!("short\n{}\nnext\r\nlast", "x".repeat(100));
        let mut lines = BoundedLines::new(BufReader::with_capacity(7, input.as_bytes()), 10);
        let mut seen = Vec::new();
        while let Some(line) = lines.next_line().await.expect("read") {
            seen.push(line);
        }
        assert_eq!(
            seen,
            vec![
                Line::Text("short".to_owned()),
                Line::TooLong,
                Line::Text("next".to_owned()),
                Line::Text("last".to_owned()),
            ]
        );
    }
}

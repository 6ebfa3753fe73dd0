//! Attachments: what images, audio, video, PDFs and canvases hold, read without trusting them.
//!
//! An image's dimensions come from its header and a recording's duration from its container
//! (nothing is decoded); a PDF's text is read page by page under caps on the page count, the
//! decompressed content of a page and the text kept; a canvas gives its text nodes as text and
//! its file nodes as embeds. A file that cannot be read as its type is still a vault item, so
//! links to it resolve; what was not read, and why, goes to the ingest report. The readers of
//! untrusted bytes run under `catch_unwind`: a parser's panic costs one file's content, not the
//! ingest.

use super::walk::SkipReason;
use super::{DocumentKind, attachment_type, extension};
use serde::{Deserialize, Serialize};

/// The most pages of a PDF read; a PDF with more (or a page tree claiming more) is kept
/// without its text.
pub const MAX_PDF_PAGES: usize = 2_000;

/// The most decompressed content one PDF page may have before its text is left out.
const MAX_PAGE_CONTENT: usize = 16 << 20;

/// The most text kept of one PDF, in bytes; later pages are left out.
pub const MAX_PDF_TEXT: usize = 4 << 20;

/// What the vault knows of an attachment besides its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Media {
    /// The IANA media type, by extension.
    pub media_type: String,
    /// An image's width in pixels.
    pub width: Option<u32>,
    /// An image's height in pixels.
    pub height: Option<u32>,
    /// A recording's duration in ms (its longest track).
    pub duration_ms: Option<u32>,
    /// A PDF's page count.
    pub pages: Option<u32>,
}

impl Media {
    /// The facts in words: `image/png, 64 × 48 px`, `audio/ogg, 1.5 s`, `application/pdf,
    /// 2 pages`.
    pub fn describe(&self) -> String {
        let mut parts = vec![self.media_type.clone()];
        if let (Some(width), Some(height)) = (self.width, self.height) {
            parts.push(format!("{width} × {height} px"));
        }
        if let Some(ms) = self.duration_ms {
            parts.push(format!("{:.1} s", f64::from(ms) / 1000.0));
        }
        if let Some(pages) = self.pages {
            parts.push(format!("{pages} page{}", if pages == 1 { "" } else { "s" }));
        }
        parts.join(", ")
    }
}

/// What reading an attachment produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// Its media facts.
    pub media: Media,
    /// A PDF's text, one entry per page (empty for a page without text).
    pub pages: Vec<String>,
    /// Why the content was not read, when it was not.
    pub unread: Option<SkipReason>,
}

/// Reads the bytes of the attachment at `path` (an image, a recording or a PDF).
pub fn read(path: &str, bytes: &[u8]) -> Contents {
    let extension = extension(path);
    let (kind, media_type) = attachment_type(&extension).unwrap_or((DocumentKind::Image, ""));
    let mut contents = Contents {
        media: Media {
            media_type: media_type.to_owned(),
            ..Media::default()
        },
        pages: Vec::new(),
        unread: None,
    };
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match kind {
        DocumentKind::Image if extension == "svg" => Ok(()),
        DocumentKind::Image => {
            let size = imagesize::blob_size(bytes).map_err(|_| SkipReason::Unparsable)?;
            contents.media.width = u32::try_from(size.width).ok();
            contents.media.height = u32::try_from(size.height).ok();
            Ok(())
        }
        DocumentKind::Audio | DocumentKind::Video => {
            contents.media.duration_ms = Some(duration_ms(bytes, &extension)?);
            Ok(())
        }
        DocumentKind::Pdf => {
            let pages = pdf_pages(bytes)?;
            contents.media.pages = u32::try_from(pages.len()).ok();
            contents.pages = pages;
            Ok(())
        }
        _ => Ok(()),
    }));
    match read {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => contents.unread = Some(reason),
        Err(_) => contents.unread = Some(SkipReason::Unparsable),
    }
    if contents.unread.is_some() {
        contents.media = Media {
            media_type: contents.media.media_type,
            ..Media::default()
        };
        contents.pages.clear();
    }
    contents
}

/// The duration of the longest track of a recording, in ms.
fn duration_ms(bytes: &[u8], extension: &str) -> Result<u32, SkipReason> {
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    let source = MediaSourceStream::new(Box::new(std::io::Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(extension);
    let format = symphonia::default::get_probe()
        .probe(
            &hint,
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|_| SkipReason::Unparsable)?;
    format
        .tracks()
        .iter()
        .filter_map(|track| {
            let time = track.time_base?.calc_duration(track.duration?)?;
            u32::try_from(time.as_millis().max(0)).ok()
        })
        .max()
        .ok_or(SkipReason::Unparsable)
}

/// The text of each page of a PDF, whitespace folded, under the caps above. A PDF with no
/// page, or whose every page fails to read, is not readable as a PDF.
fn pdf_pages(bytes: &[u8]) -> Result<Vec<String>, SkipReason> {
    let document = lopdf::Document::load_mem(bytes).map_err(|_| SkipReason::Unparsable)?;
    // What the page tree claims, then what it holds, walked lazily and stopped past the cap:
    // a tree of shared subtrees claims millions of pages in a few hundred bytes.
    let claimed = document
        .catalog()
        .and_then(|catalog| catalog.get(b"Pages"))
        .and_then(lopdf::Object::as_reference)
        .and_then(|pages| document.get_dictionary(pages))
        .and_then(|pages| pages.get(b"Count"))
        .and_then(lopdf::Object::as_i64)
        .unwrap_or(0);
    let ids: Vec<lopdf::ObjectId> = document.page_iter().take(MAX_PDF_PAGES + 1).collect();
    let count = ids.len();
    if count > MAX_PDF_PAGES || usize::try_from(claimed).unwrap_or(0) > MAX_PDF_PAGES {
        return Err(SkipReason::TooComplex);
    }
    let mut kept = 0;
    let mut failed = 0;
    let mut pages = Vec::with_capacity(count);
    for (number, id) in (1..=count).zip(ids) {
        let mut text = String::new();
        if !page_is_whole(&document, id) {
            failed += 1;
        } else if kept < MAX_PDF_TEXT {
            let page = u32::try_from(number).unwrap_or(u32::MAX);
            match document.extract_text_with_limit(&[page], MAX_PAGE_CONTENT) {
                Ok(read) => text = read.split_whitespace().collect::<Vec<_>>().join(" "),
                Err(_) => failed += 1,
            }
        }
        kept += text.len();
        pages.push(text);
    }
    if count == 0 || failed == count {
        return Err(SkipReason::Unparsable);
    }
    Ok(pages)
}

/// Whether the objects page `id` names for its content and its resources are all there (a
/// truncated file loses them, and its text then reads as nothing rather than failing).
fn page_is_whole(document: &lopdf::Document, id: lopdf::ObjectId) -> bool {
    let Ok(page) = document.get_dictionary(id) else {
        return false;
    };
    let present = |key: &[u8]| match page.get(key) {
        Ok(lopdf::Object::Reference(target)) => document.get_object(*target).is_ok(),
        _ => true,
    };
    present(b"Resources")
        && document
            .get_page_contents(id)
            .into_iter()
            .all(|content| document.get_object(content).is_ok())
}

/// A canvas (JSON Canvas, Obsidian's `.canvas`) as Markdown: each text node's text, each file
/// node as an embed of its file (`![[path#subpath]]`), each link node's address, each group's
/// and edge's label, in the order of the file, separated by blank lines. `None` when it is not
/// a canvas.
pub fn canvas_markdown(json: &str) -> Option<String> {
    let canvas: serde_json::Value = serde_json::from_str(json).ok()?;
    let object = canvas.as_object()?;
    let mut blocks: Vec<String> = Vec::new();
    let text = |value: &serde_json::Value, key: &str| {
        value
            .get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    for node in object.get("nodes")?.as_array()? {
        let block = match node.get("type").and_then(serde_json::Value::as_str) {
            Some("text") => text(node, "text"),
            Some("file") => text(node, "file").map(|file| {
                let subpath = text(node, "subpath").unwrap_or_default();
                format!("![[{file}{subpath}]]")
            }),
            Some("link") => text(node, "url"),
            Some("group") => text(node, "label"),
            _ => None,
        };
        blocks.extend(block);
    }
    if let Some(edges) = object.get("edges").and_then(serde_json::Value::as_array) {
        blocks.extend(edges.iter().filter_map(|edge| text(edge, "label")));
    }
    Some(blocks.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_name_the_kinds_obsidian_accepts() {
        assert_eq!(
            attachment_type("png"),
            Some((DocumentKind::Image, "image/png"))
        );
        assert_eq!(
            attachment_type("webm"),
            Some((DocumentKind::Video, "video/webm"))
        );
        assert_eq!(attachment_type("md"), None);
        assert_eq!(extension("Attachments/Field Guide.PDF"), "pdf");
        assert_eq!(extension("v1.2/no-extension"), "");
    }

    #[test]
    fn media_facts_read_as_words() {
        let image = Media {
            media_type: "image/png".to_owned(),
            width: Some(64),
            height: Some(48),
            ..Media::default()
        };
        assert_eq!(image.describe(), "image/png, 64 × 48 px");
        let pdf = Media {
            media_type: "application/pdf".to_owned(),
            pages: Some(1),
            ..Media::default()
        };
        assert_eq!(pdf.describe(), "application/pdf, 1 page");
        let audio = Media {
            media_type: "audio/ogg".to_owned(),
            duration_ms: Some(1500),
            ..Media::default()
        };
        assert_eq!(audio.describe(), "audio/ogg, 1.5 s");
    }

    #[test]
    fn a_canvas_reads_as_its_text_and_embeds() {
        let json = r##"{"nodes":[
            {"id":"a","type":"text","text":"# Plan\nSee [[Guide]].","x":0,"y":0,"width":1,"height":1},
            {"id":"b","type":"file","file":"Attachments/diagram.png","x":0,"y":0,"width":1,"height":1},
            {"id":"c","type":"file","file":"Guide.md","subpath":"#Setup","x":0,"y":0,"width":1,"height":1},
            {"id":"d","type":"link","url":"https://example.org","x":0,"y":0,"width":1,"height":1},
            {"id":"e","type":"group","label":"Storms","x":0,"y":0,"width":1,"height":1}],
            "edges":[{"id":"f","fromNode":"a","toNode":"b","label":"shows"}]}"##;
        assert_eq!(
            canvas_markdown(json).as_deref(),
            Some(
                "# Plan\nSee [[Guide]].\n\n![[Attachments/diagram.png]]\n\n![[Guide.md#Setup]]\n\n\
                 https://example.org\n\nStorms\n\nshows"
            )
        );
        assert_eq!(canvas_markdown("[1, 2]"), None);
        assert_eq!(canvas_markdown("{\"nodes\": "), None);
    }

    #[test]
    fn bytes_that_are_not_their_type_are_kept_without_content() {
        for path in ["a.png", "a.pdf", "a.ogg", "a.mp4"] {
            let contents = read(path, b"\x00\x01 not what the name says");
            assert_eq!(contents.unread, Some(SkipReason::Unparsable), "{path}");
            assert_eq!(contents.media.width, None);
            assert!(contents.pages.is_empty());
            assert!(!contents.media.media_type.is_empty());
        }
    }
}

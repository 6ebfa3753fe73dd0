//! The tools' icons: small line drawings in `icons/`, sent inline as `data:` URIs so a host
//! shows them without fetching anything (Atelier serves nothing over the network).

use base64::Engine;
use rmcp::model::Icon;

/// `svg` as a tool's icon list: one scalable icon, in a mid grey that reads on light and dark
/// backgrounds alike (an image has no `currentColor` to follow the host's theme).
pub fn inline(svg: &str) -> Vec<Icon> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(svg.trim_end());
    vec![
        Icon::new(format!("data:image/svg+xml;base64,{encoded}"))
            .with_mime_type("image/svg+xml")
            .with_sizes(vec!["any".to_owned()]),
    ]
}

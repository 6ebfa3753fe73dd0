//! `atelier canon` and `atelier shapes`: the curated knowledge and the output templates.

use crate::args::{BodyArgs, CanonCommand, ShapeCommand};
use crate::out::{Failure, Out};
use crate::render;
use atelier_core::Error;
use atelier_core::access::auth::Principal;
use atelier_core::api::wire::Api;
use atelier_core::api::{CanonEdit, CanonFilter, NewCanon, NewShape, ShapeEdit};
use std::io::Read;

/// Reads a body from --body, --file PATH or --file - (standard input).
fn body(out: &Out, args: BodyArgs) -> Result<Option<String>, Failure> {
    match (args.body, args.file) {
        (Some(text), _) => Ok(Some(text)),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|_| out.usage("--file", "standard input is not readable UTF-8 text"))?;
            Ok(Some(text))
        }
        (None, Some(path)) => std::fs::read_to_string(&path).map(Some).map_err(|e| {
            out.usage(
                "--file",
                &format!("cannot read {}: {}", path.display(), e.kind()),
            )
        }),
        (None, None) => Ok(None),
    }
}

pub fn canon(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: CanonCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        CanonCommand::Add {
            title,
            body: b,
            tags,
            tier: t,
        } => {
            let text = body(out, b)?
                .ok_or_else(|| out.usage("body", "give --body TEXT or --file PATH"))?;
            let block = atelier
                .canon_create(
                    who,
                    NewCanon {
                        title,
                        body: text,
                        tags,
                        tier: t,
                    },
                )
                .map_err(fail)?;
            out.show(&block, |b| {
                format!("Created canon block {}: {}", b.id, b.title)
            });
        }
        CanonCommand::Ls { tag, tier: t } => {
            let list = atelier
                .canon_list(who, &CanonFilter { tag, tier: t })
                .map_err(fail)?;
            out.show(&list, |l| render::canon_table(l));
        }
        CanonCommand::Show { id } => {
            let block = atelier.canon_show(who, id).map_err(fail)?;
            out.show(&block, render::canon);
        }
        CanonCommand::Edit {
            id,
            title,
            body: b,
            tags,
            no_tags,
            tier: t,
        } => {
            let tags = if no_tags {
                Some(Vec::new())
            } else if tags.is_empty() {
                None
            } else {
                Some(tags)
            };
            let block = atelier
                .canon_edit(
                    who,
                    CanonEdit {
                        id,
                        title,
                        body: body(out, b)?,
                        tags,
                        tier: t,
                    },
                )
                .map_err(fail)?;
            out.show(&block, |b| {
                format!("Updated canon block {}: {}", b.id, b.title)
            });
        }
    }
    Ok(())
}

pub fn shapes(
    out: &Out,
    atelier: &dyn Api,
    who: &Principal,
    command: ShapeCommand,
) -> Result<(), Failure> {
    let fail = |e: Error| out.fail(&e);
    match command {
        ShapeCommand::Add {
            name,
            kind: k,
            body: b,
            description,
        } => {
            let text = body(out, b)?
                .ok_or_else(|| out.usage("body", "give --body TEXT or --file PATH"))?;
            let shape = atelier
                .shape_create(
                    who,
                    NewShape {
                        name,
                        kind: k,
                        description,
                        body: text,
                    },
                )
                .map_err(fail)?;
            out.show(&shape, |s| {
                format!("Created {} shape {}", s.kind.name(), s.name)
            });
        }
        ShapeCommand::Ls => {
            let list = atelier.shape_list(who).map_err(fail)?;
            out.show(&list, |l| render::shape_table(l));
        }
        ShapeCommand::Show { name } => {
            let shape = atelier.shape_show(who, &name).map_err(fail)?;
            out.show(&shape, render::shape);
        }
        ShapeCommand::Edit {
            name,
            kind: k,
            body: b,
            description,
        } => {
            let shape = atelier
                .shape_edit(
                    who,
                    ShapeEdit {
                        name,
                        kind: k,
                        description,
                        body: body(out, b)?,
                    },
                )
                .map_err(fail)?;
            out.show(&shape, |s| format!("Updated shape {}", s.name));
        }
    }
    Ok(())
}

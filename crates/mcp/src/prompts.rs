//! Prompts: every play is a prompt whose arguments are its parameters; getting one answers the
//! ASSET messages the play would send, assembled from the vault (a preview: nothing is run).

use crate::refusal;
use crate::server::VaultServer;
use atelier_core::access::auth::Principal;
use atelier_core::api::RunRequest;
use atelier_core::plays::spec::{ParameterKind, Play};
use rmcp::ErrorData;
use rmcp::model::{ErrorCode, GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};
use serde_json::{Map, Value};

/// A play as a prompt.
pub fn prompt_of(play: &Play) -> Prompt {
    let arguments = play
        .parameters
        .iter()
        .map(|p| {
            PromptArgument::new(p.name.clone())
                .with_description(p.description.clone())
                .with_required(p.required && p.default.is_none())
        })
        .collect();
    let description = if play.description.is_empty() {
        play.title.clone()
    } else {
        format!("{}: {}", play.title, play.description)
    };
    Prompt::new(play.name.clone(), Some(description), Some(arguments))
        .with_title(play.title.clone())
}

/// A prompt argument (always text) as the parameter's type.
fn typed(kind: ParameterKind, text: &str) -> Value {
    match kind {
        ParameterKind::Integer | ParameterKind::Number | ParameterKind::Boolean => {
            serde_json::from_str(text.trim()).unwrap_or_else(|_| Value::String(text.to_owned()))
        }
        _ => Value::String(text.to_owned()),
    }
}

impl VaultServer {
    /// The plays `who` may preview, as prompts.
    pub(crate) async fn prompts_for(&self, who: Principal) -> Result<Vec<Prompt>, ErrorData> {
        let plays = self.call(move |a| a.plays_list(&who)).await?;
        Ok(plays.iter().map(prompt_of).collect())
    }

    /// The assembled messages of play `name` with `arguments`.
    pub(crate) async fn prompt(
        &self,
        who: Principal,
        name: String,
        arguments: Map<String, Value>,
    ) -> Result<GetPromptResult, ErrorData> {
        let lookup_who = who.clone();
        let lookup = name.clone();
        let play = self
            .call(move |a| a.play_show(&lookup_who, &lookup))
            .await
            .map_err(|e| {
                // MCP names an unknown prompt an invalid parameter.
                if e.code == ErrorCode::RESOURCE_NOT_FOUND {
                    ErrorData::new(ErrorCode::INVALID_PARAMS, e.message, e.data)
                } else {
                    e
                }
            })?;
        let mut params = Map::new();
        for (key, value) in arguments {
            let Some(parameter) = play.parameters.iter().find(|p| p.name == key) else {
                return Err(refusal::bad_arguments(
                    &name,
                    &[format!("`{key}` is not a parameter of this play")],
                ));
            };
            let text = match &value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            params.insert(key, typed(parameter.kind, &text));
        }
        let request = RunRequest {
            play: name,
            adhoc: None,
            params,
            model: None,
            task: None,
            idempotency_key: None,
        };
        let preview = self.call(move |a| a.run_preview(&who, &request)).await?;
        let several = preview.steps.len() > 1;
        let messages = preview
            .steps
            .iter()
            .map(|step| {
                let heading = if several {
                    format!("# Step `{}` (role `{}`)\n\n", step.step, step.role)
                } else {
                    String::new()
                };
                PromptMessage::new_text(
                    Role::User,
                    format!(
                        "{heading}{}\n\n{}",
                        step.assembled.system, step.assembled.prompt
                    ),
                )
            })
            .collect();
        let mut result = GetPromptResult::new(messages);
        result.description = Some(format!(
            "{} (version {}), assembled from the vault",
            play.title,
            &play.version.chars().take(12).collect::<String>()
        ));
        Ok(result)
    }
}

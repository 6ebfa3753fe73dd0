//! Which models a step tries, in order: the step's explicit model alone; otherwise the role's
//! `preferred_llm` and `fallback_llms`, then the routing table's list for the step's task class,
//! then a local Ollama if one answers. Each failure falls back to the next candidate.

use serde::{Deserialize, Serialize};

/// `provider:model`, split at the first colon (Ollama models have colons of their own:
/// `ollama:llama3.1:8b`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ModelRef {
    /// The provider's name.
    pub provider: String,
    /// The model's name at that provider.
    pub model: String,
}

impl ModelRef {
    /// Parses `provider:model`.
    pub fn parse(text: &str) -> Option<ModelRef> {
        let (provider, model) = text.trim().split_once(':')?;
        let ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 200
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-:/@".contains(c))
        };
        (ok(provider) && !provider.contains([':', '/']) && ok(model) && !model.contains("..")).then(
            || ModelRef {
                provider: provider.to_owned(),
                model: model.to_owned(),
            },
        )
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.provider, self.model)
    }
}

/// Why a candidate is in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Named by the step, or by `--model`.
    Explicit,
    /// The role's preferred model.
    RolePreferred,
    /// One of the role's fallbacks.
    RoleFallback,
    /// The routing table's entry for the task class.
    Route,
    /// A local Ollama that answered.
    Local,
}

/// A model to try, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Candidate {
    /// The model.
    pub model: ModelRef,
    /// Why it is tried.
    pub origin: Origin,
}

/// What routing reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoutingInput<'a> {
    /// `--model`, or the step's `model:`.
    pub explicit: Option<&'a str>,
    /// The role's `preferred_llm`.
    pub preferred: Option<&'a str>,
    /// The role's `fallback_llms`.
    pub fallbacks: &'a [String],
    /// The routing table's list for the step's class.
    pub route: &'a [String],
}

/// The candidates, without repeats; `local` is asked for only when nothing else is configured.
pub fn candidates(
    input: &RoutingInput<'_>,
    local: impl FnOnce() -> Option<ModelRef>,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let push = |text: &str, origin: Origin, out: &mut Vec<Candidate>| {
        if let Some(model) = ModelRef::parse(text)
            && !out.iter().any(|c| c.model == model)
        {
            out.push(Candidate { model, origin });
        }
    };
    if let Some(explicit) = input.explicit {
        push(explicit, Origin::Explicit, &mut out);
        return out;
    }
    if let Some(preferred) = input.preferred {
        push(preferred, Origin::RolePreferred, &mut out);
    }
    for fallback in input.fallbacks {
        push(fallback, Origin::RoleFallback, &mut out);
    }
    for entry in input.route {
        push(entry, Origin::Route, &mut out);
    }
    if out.is_empty()
        && let Some(model) = local()
    {
        out.push(Candidate {
            model,
            origin: Origin::Local,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(c: &[Candidate]) -> Vec<String> {
        c.iter().map(|c| c.model.to_string()).collect()
    }

    #[test]
    fn explicit_wins_alone_then_role_then_route_then_local() {
        let fallbacks = vec![
            "anthropic:claude-haiku-4-5".to_owned(),
            "openai:gpt-4o".to_owned(),
        ];
        let route = vec![
            "openai:gpt-4o".to_owned(),
            "gemini:gemini-2.5-flash".to_owned(),
        ];
        let local = || ModelRef::parse("ollama:llama3.1:8b");
        let all = RoutingInput {
            explicit: None,
            preferred: Some("openai:gpt-4o"),
            fallbacks: &fallbacks,
            route: &route,
        };
        assert_eq!(
            names(&candidates(&all, local)),
            [
                "openai:gpt-4o",
                "anthropic:claude-haiku-4-5",
                "gemini:gemini-2.5-flash"
            ]
        );
        let explicit = RoutingInput {
            explicit: Some("gemini:x"),
            ..all
        };
        assert_eq!(names(&candidates(&explicit, local)), ["gemini:x"]);
        let nothing = RoutingInput::default();
        let found = candidates(&nothing, local);
        assert_eq!(names(&found), ["ollama:llama3.1:8b"]);
        assert_eq!(found[0].origin, Origin::Local);
        assert!(candidates(&nothing, || None).is_empty());
    }

    #[test]
    fn model_refs_split_at_the_first_colon_and_refuse_odd_characters() {
        let m = ModelRef::parse("ollama:llama3.1:8b").expect("parses");
        assert_eq!(
            (m.provider.as_str(), m.model.as_str()),
            ("ollama", "llama3.1:8b")
        );
        assert!(ModelRef::parse("openai").is_none());
        assert!(ModelRef::parse(":gpt").is_none());
        assert!(ModelRef::parse("openai:gpt 4").is_none());
        assert!(ModelRef::parse("openai:../../x?key=1").is_none());
        assert!(ModelRef::parse("gemini:../admin").is_none());
    }
}

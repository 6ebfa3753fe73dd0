//! Runs: a play executed step by step. [`engine`] prepares each step (ASSET), calls its models
//! in order with fallbacks, checks gates and asks the judge; [`records`] writes runs and their
//! steps to SQLite, so a crash leaves a record that the next start marks `failed
//! (interrupted)`; [`switch`] is the kill switch; [`commands`] are the run commands.

pub mod commands;
pub mod engine;
pub mod records;
pub mod switch;

use crate::assets::AssetState;
use crate::clock::Millis;
use crate::plays::adhoc::AdhocRequest;
use crate::plays::assemble::Assembled;
use crate::plays::gates::GateResult;
use crate::providers::ProviderError;
use crate::providers::routing::Candidate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A play to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The play's name (ignored for an ad-hoc request).
    #[serde(default)]
    pub play: String,
    /// Instead of a play: one step whose role, sources, shape, expectations and task are
    /// chosen here.
    #[serde(default)]
    pub adhoc: Option<AdhocRequest>,
    /// Its parameters.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// A `provider:model` for every step, overriding routing.
    #[serde(default)]
    pub model: Option<String>,
    /// The task the run is for. Its title, description and the outputs of the tasks it depends
    /// on reach the play's templates as `task` and `upstream`.
    #[serde(default)]
    pub task: Option<i64>,
    /// Starting a run again with the same key answers the run that passed under it instead of
    /// running again, and each model call carries the key (with the step) so a provider that
    /// honours `Idempotency-Key` does not work twice. The scheduler keys runs by task and attempt.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// What a run tells while it works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    /// The run exists.
    Started {
        /// Run id.
        run: i64,
    },
    /// A step began with a model.
    StepStarted {
        /// Run id.
        run: i64,
        /// Step id.
        step: String,
        /// `provider:model`.
        model: String,
    },
    /// Generated text.
    Text {
        /// Run id.
        run: i64,
        /// Step id.
        step: String,
        /// The new text.
        text: String,
    },
    /// A call failed and will be tried again, or the next model will be.
    Retry {
        /// Run id.
        run: i64,
        /// Step id.
        step: String,
        /// The model that failed.
        model: String,
        /// Why.
        error: ProviderError,
        /// How long before the next try, in ms (0 when falling back to another model).
        wait_ms: u64,
    },
    /// A step ended.
    StepFinished {
        /// Run id.
        run: i64,
        /// Step id.
        step: String,
        /// `passed` or `failed`.
        status: String,
        /// Its gates.
        gates: Vec<GateResult>,
    },
    /// The run's output was banked as an asset.
    Banked {
        /// Run id.
        run: i64,
        /// The asset.
        asset: i64,
        /// Its version.
        version: i64,
        /// Its approval state.
        state: AssetState,
    },
    /// The run ended.
    Finished {
        /// Run id.
        run: i64,
        /// Its final status.
        status: String,
    },
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RunView {
    /// Id.
    pub id: i64,
    /// Play name.
    pub play: String,
    /// The play's version (SHA-256 of its text).
    pub play_version: String,
    /// The parameters.
    pub params: Value,
    /// Who ran it.
    pub principal: String,
    /// `pending`, `running`, `passed`, `failed`, `cancelled`.
    pub status: String,
    /// Why it failed or was cancelled: `gates`, `provider`, `interrupted`, `cancelled`,
    /// `switched_off`, `error`.
    pub reason: Option<String>,
    /// In words.
    pub message: Option<String>,
    /// Tokens and cost over all steps.
    pub input_tokens: i64,
    /// Tokens and cost over all steps.
    pub output_tokens: i64,
    /// Millionths of a dollar; steps on unpriced models add nothing.
    pub cost_micros: i64,
    /// The task it was for.
    pub task: Option<i64>,
    /// When.
    pub created_at: Millis,
    /// When it ended.
    pub finished_at: Option<Millis>,
    /// Its steps in the order they ran.
    pub steps: Vec<StepView>,
    /// The asset its output was banked as.
    pub asset: Option<i64>,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StepView {
    /// Step id.
    pub step: String,
    /// `running`, `passed`, `failed`, `cancelled`, `skipped`.
    pub status: String,
    /// The role that acted.
    pub role: String,
    /// The model that answered.
    pub model: Option<String>,
    /// The system message sent.
    pub system_prompt: Option<String>,
    /// The user message sent.
    pub prompt: Option<String>,
    /// The output.
    pub output: Option<String>,
    /// Gate results.
    pub gates: Vec<GateResult>,
    /// The typed error that ended it, as JSON.
    pub error: Option<Value>,
    /// Each call tried: model and outcome.
    pub attempts: Vec<Attempt>,
    /// Tokens.
    pub input_tokens: i64,
    /// Tokens.
    pub output_tokens: i64,
    /// Millionths of a dollar.
    pub cost_micros: i64,
    /// Time from the first call to the answer.
    pub latency_ms: Option<i64>,
}

/// One provider call of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Attempt {
    /// `provider:model`.
    pub model: String,
    /// `ok`, or the error's message.
    pub outcome: String,
}

/// What a dry run shows: each step's prompt exactly as it would be sent, and its models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RunPreview {
    /// Play name.
    pub play: String,
    /// Its version.
    pub play_version: String,
    /// Each step in run order.
    pub steps: Vec<StepPreview>,
}

/// One step of a preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StepPreview {
    /// Step id.
    pub step: String,
    /// Its role.
    pub role: String,
    /// The models it would try, in order.
    pub candidates: Vec<Candidate>,
    /// The assembled prompt (steps that read earlier outputs show a placeholder there).
    pub assembled: Assembled,
}

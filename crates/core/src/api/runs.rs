//! Runs: a play executed step by step. Each step is assembled (ASSET), routed to a model,
//! streamed, checked by its gates, and written to SQLite when it starts and when it ends, so a
//! crash leaves a record that the next start marks `failed (interrupted)`.

use super::assets::Banked;
use super::providers::{providers_in, routes_in};
use super::{Atelier, OpenVault, authorize_with, lock};
use crate::assets::AssetState;
use crate::audit::{self, Entry};
use crate::auth::{Capability, Principal};
use crate::catalog;
use crate::clock::Millis;
use crate::docs::search::{SearchFilter, SearchMode};
use crate::error::{Error, Result};
use crate::input;
use crate::plays::adhoc::{self, AdhocRequest};
use crate::plays::assemble::{
    self, Assembled, AssemblyInput, ResolvedShape, SourceCandidate, SourceKind,
};
use crate::plays::gates::{self, GateContext, GateResult};
use crate::plays::spec::{self, Count, Expectation, ParameterKind, ShapeRef, Step};
use crate::plays::{LoadedPlay, PlaySet};
use crate::providers::pricing::PriceTable;
use crate::providers::routing::{self, Candidate, ModelRef, RoutingInput};
use crate::providers::transport::{self, Cancel, Endpoint, Limits};
use crate::providers::{ChatRequest, OutputFormat, ProviderError, RetryPolicy, Usage};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::time::Instant;

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

/// Judge verdicts are JSON of this schema.
fn verdict_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["pass", "reasons"],
        "properties": {
            "pass": {"type": "boolean"},
            "score": {"type": "integer", "minimum": 0, "maximum": 10},
            "reasons": {"type": "string"}
        }
    })
}

/// The role that judges rubrics.
const JUDGE_ROLE: &str = "reviewer";

impl Atelier {
    /// Every play, shipped and the vault's. Needs `vault_read`.
    pub fn plays_list(&self, who: &Principal) -> Result<Vec<spec::Play>> {
        self.read(who, Capability::VaultRead, |_, _| {
            Ok(self.plays()?.iter().map(|p| p.play.clone()).collect())
        })
    }

    /// One play. Needs `vault_read`.
    pub fn play_show(&self, who: &Principal, name: &str) -> Result<spec::Play> {
        self.read(who, Capability::VaultRead, |_, _| Ok(self.play(name)?.play))
    }

    fn plays(&self) -> Result<PlaySet> {
        PlaySet::load(Some(&self.vault.join("plays"))).map_err(|problems| {
            let first = problems.into_iter().next();
            Error::invalid(
                "play",
                first.map_or_else(|| "invalid".to_owned(), |p| p.to_string()),
            )
        })
    }

    /// The play a request names, or the one-step play its ad-hoc parts make.
    pub(super) fn requested_play(&self, request: &RunRequest) -> Result<LoadedPlay> {
        match &request.adhoc {
            Some(parts) => adhoc::play(parts).map_err(|p| Error::invalid("adhoc", p.message)),
            None => self.play(&request.play),
        }
    }

    fn play(&self, name: &str) -> Result<LoadedPlay> {
        self.plays()?
            .get(name)
            .cloned()
            .ok_or_else(|| Error::not_found("play", name))
    }

    /// Assembles every step without calling a model. Needs `run_plays`.
    pub fn run_preview(&self, who: &Principal, request: &RunRequest) -> Result<RunPreview> {
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::RunPlays)?;
        let loaded = self.requested_play(request)?;
        let params = bind_params(&loaded.play, &request.params)?;
        let order =
            spec::order(&loaded.play.steps).map_err(|c| Error::invalid("play", c.join(" → ")))?;
        let mut outputs = Map::new();
        let mut steps = Vec::new();
        for index in order {
            let step = &loaded.play.steps[index];
            for need in &step.needs {
                outputs.insert(
                    need.clone(),
                    json!({"output": format!("[output of step {need}]")}),
                );
            }
            self.step_allowed(open, who, step)?;
            let context = template_context(&loaded.play, &params, &outputs);
            let prepared = self.prepare_step(open, step, &context)?;
            let candidates = self.candidates(open, step, request.model.as_deref())?;
            steps.push(StepPreview {
                step: step.id.clone(),
                role: step.role.clone(),
                candidates,
                assembled: prepared.assembled,
            });
        }
        Ok(RunPreview {
            play: loaded.play.name.clone(),
            play_version: loaded.play.version.clone(),
            steps,
        })
    }

    /// Runs a play, streaming `on_event`. Needs `run_plays`; inside the run each step acts
    /// with its role's capabilities intersected with the caller's.
    pub fn run_play(
        &self,
        who: &Principal,
        request: &RunRequest,
        on_event: &mut dyn FnMut(RunEvent),
    ) -> Result<RunView> {
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::RunPlays)?;
        self.refuse_when_switched_off(open)?;
        let loaded = self.requested_play(request)?;
        let params = bind_params(&loaded.play, &request.params)?;
        let order =
            spec::order(&loaded.play.steps).map_err(|c| Error::invalid("play", c.join(" → ")))?;
        for step in &loaded.play.steps {
            self.step_allowed(open, who, step)?;
        }
        if let Some(task) = request.task {
            let exists: bool = lock(&open.db)
                .query_row("SELECT 1 FROM tasks WHERE id = ?1", [task], |_| Ok(true))
                .optional()?
                .unwrap_or(false);
            if !exists {
                return Err(Error::not_found("task", task));
            }
        }
        if let Some(model) = &request.model
            && ModelRef::parse(model).is_none()
        {
            return Err(Error::invalid(
                "model",
                format!("`{model}` should be written `provider:model`"),
            ));
        }
        if let Some(key) = &request.idempotency_key {
            input::line("idempotency_key", key, 200)?;
            if let Some(run) = self.passed_under_key(open, who, key)? {
                return Ok(run);
            }
        }
        let mut params = params;
        if let Some(task) = request.task {
            let db = lock(&open.db);
            for (name, value) in task_context(&db, task)? {
                // A parameter of the play's own with the same name wins.
                params.entry(name).or_insert(value);
            }
        }
        let prices = self.prices()?;
        let run = self.write(who, Capability::RunPlays, |ctx| {
            ctx.tx.execute(
                "INSERT INTO runs (play, play_version, play_text, params, principal, task_id, status, created_at, started_at, idempotency_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?7, ?8)",
                params![
                    loaded.play.name,
                    loaded.play.version,
                    loaded.text,
                    Value::Object(params.clone()).to_string(),
                    who.as_text(),
                    request.task,
                    ctx.now,
                    request.idempotency_key
                ],
            )?;
            let run = ctx.tx.last_insert_rowid();
            for (position, step) in loaded.play.steps.iter().enumerate() {
                ctx.tx.execute(
                    "INSERT INTO run_steps (run_id, step, position, status, role) VALUES (?1, ?2, ?3, 'pending', ?4)",
                    params![run, step.id, i64::try_from(position).unwrap_or(0), step.role],
                )?;
            }
            Ok((
                run,
                Entry {
                    action: "run.start",
                    target: format!("run:{run}"),
                    summary: format!("started play {} ({})", loaded.play.name, &loaded.play.version[..12]),
                },
            ))
        })?;
        on_event(RunEvent::Started { run });
        let cancel = self.run_cancel_token();
        lock(&open.runs).insert(run, cancel.clone());
        let outcome = self.run_steps(
            open, run, &loaded, &order, &params, request, &prices, &cancel, on_event,
        );
        lock(&open.runs).remove(&run);
        let (status, reason, message) = match &outcome {
            Ok(()) => ("passed", None, None),
            Err(StepFailure::Gates(step)) => (
                "failed",
                Some("gates"),
                Some(format!("step {step} did not pass its gates")),
            ),
            Err(StepFailure::Provider(step, e)) => (
                "failed",
                Some("provider"),
                Some(format!("step {step}: {e}")),
            ),
            Err(StepFailure::Cancelled) => {
                let switched = self.refuse_when_switched_off(open).is_err();
                (
                    "cancelled",
                    Some(if switched {
                        "switched_off"
                    } else {
                        "cancelled"
                    }),
                    None,
                )
            }
            Err(StepFailure::Error(e)) => ("failed", Some("error"), Some(e.to_string())),
        };
        self.write(who, Capability::RunPlays, |ctx| {
            ctx.tx.execute(
                "UPDATE runs SET status = ?2, reason = ?3, message = ?4, finished_at = ?5,
                    input_tokens = (SELECT COALESCE(SUM(input_tokens), 0) FROM run_steps WHERE run_id = ?1),
                    output_tokens = (SELECT COALESCE(SUM(output_tokens), 0) FROM run_steps WHERE run_id = ?1),
                    cost_micros = (SELECT COALESCE(SUM(cost_micros), 0) FROM run_steps WHERE run_id = ?1)
                 WHERE id = ?1",
                params![run, status, reason, message, ctx.now],
            )?;
            ctx.tx.execute(
                "UPDATE run_steps SET status = CASE WHEN ?2 = 'cancelled' THEN 'cancelled' ELSE 'skipped' END
                 WHERE run_id = ?1 AND status IN ('pending', 'running')",
                params![run, status],
            )?;
            Ok((
                (),
                Entry {
                    action: "run.finish",
                    target: format!("run:{run}"),
                    summary: format!("run {run} {status}{}", reason.map_or_else(String::new, |r| format!(" ({r})"))),
                },
            ))
        })?;
        if status == "passed" {
            match self.bank_passed_run(who, run) {
                Ok(Banked::Yes(asset, version, state)) => on_event(RunEvent::Banked {
                    run,
                    asset,
                    version,
                    state,
                }),
                Ok(Banked::NotByPolicy) => {}
                Err(e) => {
                    // The run passed and its output is kept in the run; say why it is not an
                    // asset, so it can be banked by hand once that is fixed.
                    lock(&open.db).execute(
                        "UPDATE runs SET message = ?2 WHERE id = ?1",
                        params![run, format!("passed, but not banked: {e}")],
                    )?;
                }
            }
        }
        on_event(RunEvent::Finished {
            run,
            status: status.to_owned(),
        });
        self.run_view(&lock(&open.db), run)
    }

    /// The run that passed under `key`, banked if its play banks and a crash came between the
    /// two; `None` if no run passed under it.
    fn passed_under_key(
        &self,
        open: &OpenVault,
        who: &Principal,
        key: &str,
    ) -> Result<Option<RunView>> {
        let passed: Option<i64> = lock(&open.db)
            .query_row(
                "SELECT id FROM runs WHERE idempotency_key = ?1 AND status = 'passed'
                 ORDER BY id LIMIT 1",
                [key],
                |r| r.get(0),
            )
            .optional()?;
        let Some(run) = passed else {
            return Ok(None);
        };
        if self.run_view(&lock(&open.db), run)?.asset.is_none() {
            self.bank_passed_run(who, run)?;
        }
        Ok(Some(self.run_view(&lock(&open.db), run)?))
    }

    /// Cancels a running run of this process. Needs `run_plays`.
    pub fn run_cancel(&self, who: &Principal, run: i64) -> Result<()> {
        let open = self.open_vault()?;
        self.authorize(open, who, Capability::RunPlays)?;
        match lock(&open.runs).get(&run) {
            Some(cancel) => {
                cancel.cancel();
                Ok(())
            }
            None => Err(Error::invalid("run", format!("run {run} is not running"))),
        }
    }

    /// Runs, newest first. Needs `vault_read`.
    pub fn runs_list(&self, who: &Principal, limit: u32) -> Result<Vec<RunView>> {
        self.read(who, Capability::VaultRead, |db, _| {
            let ids: Vec<i64> = db
                .prepare("SELECT id FROM runs ORDER BY id DESC LIMIT ?1")?
                .query_map([limit.clamp(1, 500)], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.into_iter().map(|id| self.run_view(db, id)).collect()
        })
    }

    /// One run with its steps. Needs `vault_read`.
    pub fn run_show(&self, who: &Principal, run: i64) -> Result<RunView> {
        self.read(who, Capability::VaultRead, |db, _| self.run_view(db, run))
    }

    fn run_view(&self, db: &Connection, run: i64) -> Result<RunView> {
        let mut view = db
            .query_row(
                "SELECT id, play, play_version, params, principal, status, reason, message,
                        input_tokens, output_tokens, cost_micros, task_id, created_at, finished_at
                   FROM runs WHERE id = ?1",
                [run],
                |r| {
                    Ok(RunView {
                        id: r.get(0)?,
                        play: r.get(1)?,
                        play_version: r.get(2)?,
                        params: serde_json::from_str(&r.get::<_, String>(3)?)
                            .unwrap_or(Value::Null),
                        principal: r.get(4)?,
                        status: r.get(5)?,
                        reason: r.get(6)?,
                        message: r.get(7)?,
                        input_tokens: r.get(8)?,
                        output_tokens: r.get(9)?,
                        cost_micros: r.get(10)?,
                        task: r.get(11)?,
                        created_at: r.get(12)?,
                        finished_at: r.get(13)?,
                        steps: Vec::new(),
                        asset: None,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| Error::not_found("run", run))?;
        let mut stmt = db.prepare(
            "SELECT step, status, role, model, system_prompt, prompt, output, gates, error, attempts,
                    input_tokens, output_tokens, cost_micros, latency_ms
               FROM run_steps WHERE run_id = ?1 ORDER BY COALESCE(started_at, 9223372036854775807), position",
        )?;
        let json_of =
            |text: Option<String>| text.and_then(|t| serde_json::from_str::<Value>(&t).ok());
        view.steps = stmt
            .query_map([run], |r| {
                Ok(StepView {
                    step: r.get(0)?,
                    status: r.get(1)?,
                    role: r.get(2)?,
                    model: r.get(3)?,
                    system_prompt: r.get(4)?,
                    prompt: r.get(5)?,
                    output: r.get(6)?,
                    gates: json_of(r.get(7)?)
                        .and_then(|v| serde_json::from_value(v).ok())
                        .unwrap_or_default(),
                    error: json_of(r.get(8)?),
                    attempts: json_of(r.get(9)?)
                        .and_then(|v| serde_json::from_value(v).ok())
                        .unwrap_or_default(),
                    input_tokens: r.get(10)?,
                    output_tokens: r.get(11)?,
                    cost_micros: r.get(12)?,
                    latency_ms: r.get(13)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        view.asset = db
            .query_row(
                "SELECT asset_id FROM asset_versions WHERE run_id = ?1 ORDER BY asset_id LIMIT 1",
                [run],
                |r| r.get(0),
            )
            .optional()?;
        Ok(view)
    }

    /// The step's role must exist, and the caller together with the role must hold what the
    /// step does: reading the vault for sources.
    fn step_allowed(&self, open: &OpenVault, who: &Principal, step: &Step) -> Result<()> {
        let role = open
            .roles
            .get(&step.role)
            .ok_or_else(|| Error::not_found("role", &step.role))?;
        let reads = !step.sources.canon_tags.is_empty() || step.sources.search.is_some();
        if reads {
            let db = lock(&open.db);
            authorize_with(&db, open, who, Capability::VaultRead, self.now())?;
            // Passages are the text of project files, searched across every file: the caller
            // needs `file_read` over all of them (a scoped grant does not cover a search).
            if step.sources.search.is_some() {
                authorize_with(&db, open, who, Capability::FileRead, self.now())?;
            }
            if !role.capabilities.contains(&Capability::VaultRead) {
                return Err(Error::Denied {
                    principal: format!("role:{}", role.name),
                    capability: Capability::VaultRead,
                });
            }
        }
        Ok(())
    }

    fn prices(&self) -> Result<PriceTable> {
        let overrides = match std::fs::read_to_string(self.vault.join("prices.yaml")) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io("cannot read prices.yaml", &e)),
        };
        PriceTable::load(overrides.as_deref()).map_err(|m| Error::invalid("prices.yaml", m))
    }

    /// The models `step` would try.
    fn candidates(
        &self,
        open: &OpenVault,
        step: &Step,
        model: Option<&str>,
    ) -> Result<Vec<Candidate>> {
        let role = open
            .roles
            .get(&step.role)
            .ok_or_else(|| Error::not_found("role", &step.role))?;
        let routes = routes_in(&lock(&open.db))?;
        let route = routes
            .iter()
            .find(|r| r.task_class == step.task_class)
            .map(|r| r.models.clone())
            .unwrap_or_default();
        let input = RoutingInput {
            explicit: model.or(step.model.as_deref()),
            preferred: role.preferred_llm.as_deref(),
            fallbacks: &role.fallback_llms,
            route: &route,
        };
        Ok(routing::candidates(&input, || self.local_model(open)))
    }

    /// The first model of a local Ollama, if one answers within half a second.
    fn local_model(&self, open: &OpenVault) -> Option<ModelRef> {
        let providers = providers_in(&lock(&open.db)).ok()?;
        let ollama = providers.iter().find(|p| p.name == "ollama")?;
        let root = ollama.base_url.trim_end_matches("/v1");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_millis(500)))
            .build()
            .into();
        let mut response = agent.get(&format!("{root}/api/tags")).call().ok()?;
        let list: Value = serde_json::from_str(&response.body_mut().read_to_string().ok()?).ok()?;
        let name = list.pointer("/models/0/name")?.as_str()?;
        ModelRef::parse(&format!("ollama:{name}"))
    }
}

/// Why a run stopped early.
enum StepFailure {
    Gates(String),
    Provider(String, ProviderError),
    Cancelled,
    Error(Error),
}

impl From<Error> for StepFailure {
    fn from(e: Error) -> Self {
        StepFailure::Error(e)
    }
}

/// A step ready to send.
struct PreparedStep {
    assembled: Assembled,
    shape: Option<ResolvedShape>,
    citations: Vec<String>,
}

impl Atelier {
    #[allow(clippy::too_many_arguments)]
    fn run_steps(
        &self,
        open: &OpenVault,
        run: i64,
        loaded: &LoadedPlay,
        order: &[usize],
        params: &Map<String, Value>,
        request: &RunRequest,
        prices: &PriceTable,
        cancel: &Cancel,
        on_event: &mut dyn FnMut(RunEvent),
    ) -> std::result::Result<(), StepFailure> {
        let mut outputs = Map::new();
        for &index in order {
            if cancel.is_cancelled() {
                return Err(StepFailure::Cancelled);
            }
            let step = &loaded.play.steps[index];
            let context = template_context(&loaded.play, params, &outputs);
            let prepared = self.prepare_step(open, step, &context)?;
            self.step_started(open, run, step, &prepared)?;
            let candidates = self.candidates(open, step, request.model.as_deref())?;
            let key = request
                .idempotency_key
                .as_ref()
                .map(|k| format!("{k}:{}", step.id));
            let answer = self.call_models(
                open,
                run,
                step,
                &prepared,
                &candidates,
                key,
                cancel,
                on_event,
            );
            let (model, completion, attempts, latency) = match answer {
                Ok(a) => a,
                Err((attempts, failure)) => {
                    self.step_failed(open, run, &step.id, &attempts, &failure)?;
                    return Err(failure);
                }
            };
            let gate_context = GateContext {
                citations: &prepared.citations,
                shape_schema: match &prepared.shape {
                    Some(ResolvedShape::Json(schema)) => Some(schema),
                    _ => None,
                },
                template_context: &context,
            };
            let mut results: Vec<GateResult> = step
                .expectations
                .iter()
                .filter_map(|e| gates::check(e, &completion.text, &gate_context))
                .collect();
            for expectation in &step.expectations {
                if let Expectation::Rubric(rubric) = expectation {
                    results.push(self.judge(open, rubric, &completion.text, cancel)?);
                }
            }
            let passed = results.iter().all(|g| g.passed);
            let cost = prices.cost_micros(&model.provider, &model.model, completion.usage);
            self.step_finished(
                open,
                run,
                &step.id,
                &model,
                &completion.text,
                &results,
                &attempts,
                completion.usage,
                cost,
                latency,
                passed,
            )?;
            on_event(RunEvent::StepFinished {
                run,
                step: step.id.clone(),
                status: if passed { "passed" } else { "failed" }.to_owned(),
                gates: results,
            });
            if !passed {
                return Err(StepFailure::Gates(step.id.clone()));
            }
            outputs.insert(step.id.clone(), json!({"output": completion.text}));
        }
        Ok(())
    }

    /// Sources, shape and task of `step`. Reading sources was authorized before the run began
    /// ([`Atelier::step_allowed`]: the caller and the step's role both hold `vault_read`), so
    /// the search here runs without a second check.
    fn prepare_step(&self, open: &OpenVault, step: &Step, context: &Value) -> Result<PreparedStep> {
        let role = open
            .roles
            .get(&step.role)
            .ok_or_else(|| Error::not_found("role", &step.role))?;
        let render = |field: &str, t: &str| {
            crate::plays::template::render(t, context)
                .map_err(|m| Error::invalid(&format!("step {} {field}", step.id), m))
        };
        let task = render("task", &step.task)?;
        let mut candidates = Vec::new();
        {
            let db = lock(&open.db);
            let mut seen = std::collections::BTreeSet::new();
            for tag in &step.sources.canon_tags {
                for block in catalog::canon_list(&db, Some(tag), None)? {
                    if seen.insert(block.id) {
                        candidates.push((
                            block.tier.name() == "canon",
                            SourceCandidate {
                                kind: SourceKind::Canon,
                                title: block.title.clone(),
                                reference: format!("canon:{}", block.id),
                                text: block.body.clone(),
                            },
                        ));
                    }
                }
            }
        }
        // Canon tier first, then secondary, each in id order.
        candidates.sort_by_key(|(canon, _)| !*canon);
        let mut candidates: Vec<SourceCandidate> = candidates.into_iter().map(|(_, c)| c).collect();
        if let Some(query) = &step.sources.search {
            let query = render("sources.search", query)?;
            let project = match &step.sources.project {
                Some(p) => Some(render("sources.project", p)?).filter(|p| !p.trim().is_empty()),
                None => None,
            };
            if !query.trim().is_empty() {
                let hits = self.search(
                    &Principal::Owner,
                    crate::api::SearchRequest {
                        query,
                        mode: SearchMode::Hybrid,
                        filter: SearchFilter {
                            project,
                            ..SearchFilter::default()
                        },
                        limit: Some(step.sources.passages.clamp(1, 100)),
                    },
                );
                let hits = match hits {
                    Ok(hits) => hits,
                    // No embedding model: fall back to words, which need none.
                    Err(Error::ModelMissing { .. }) => Vec::new(),
                    Err(e) => return Err(e),
                };
                let db = lock(&open.db);
                for hit in hits {
                    let body: Option<String> = db
                        .query_row(
                            "SELECT body FROM chunks WHERE id = ?1",
                            [hit.source.chunk],
                            |r| r.get(0),
                        )
                        .optional()?;
                    if let Some(body) = body {
                        let title = if hit.source.heading.is_empty() {
                            format!("{}/{}", hit.source.project, hit.source.path)
                        } else {
                            format!(
                                "{}/{} › {}",
                                hit.source.project, hit.source.path, hit.source.heading
                            )
                        };
                        candidates.push(SourceCandidate {
                            kind: SourceKind::Passage,
                            title,
                            reference: format!("chunk:{}", hit.source.chunk),
                            text: body,
                        });
                    }
                }
            }
        }
        let shape = match &step.shape {
            None => None,
            Some(ShapeRef::Markdown { markdown }) => {
                Some(ResolvedShape::Markdown(markdown.clone()))
            }
            Some(ShapeRef::Json { json_schema }) => Some(ResolvedShape::Json(json_schema.clone())),
            Some(ShapeRef::Named(name)) => {
                let shape = catalog::shape_get(&lock(&open.db), name)?;
                Some(match shape.kind {
                    catalog::ShapeKind::Markdown => ResolvedShape::Markdown(shape.body),
                    catalog::ShapeKind::JsonSchema => ResolvedShape::Json(
                        serde_json::from_str(&shape.body)
                            .map_err(|_| Error::invalid("shape", "its JSON Schema is not JSON"))?,
                    ),
                })
            }
        };
        let mut resolved = Vec::new();
        for e in &step.expectations {
            if let Expectation::MaxWords(c @ Count::Template(_))
            | Expectation::MinWords(c @ Count::Template(_)) = e
            {
                resolved.push(
                    gates::resolve_count(c, context).map_err(|m| {
                        Error::invalid(&format!("step {} expectations", step.id), m)
                    })?,
                );
            }
        }
        let assembled = assemble::assemble(&AssemblyInput {
            role: &role.name,
            role_prompt: &role.system_prompt,
            candidates,
            budget_tokens: step.sources.budget_tokens,
            shape: shape.as_ref(),
            expectations: &step.expectations,
            resolved_counts: &resolved,
            task: &task,
        });
        let citations = assembled
            .sources
            .iter()
            .map(|s| s.citation.clone())
            .collect();
        Ok(PreparedStep {
            assembled,
            shape,
            citations,
        })
    }

    /// Tries each candidate in turn, retrying per [`RetryPolicy`].
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn call_models(
        &self,
        open: &OpenVault,
        run: i64,
        step: &Step,
        prepared: &PreparedStep,
        candidates: &[Candidate],
        idempotency_key: Option<String>,
        cancel: &Cancel,
        on_event: &mut dyn FnMut(RunEvent),
    ) -> std::result::Result<
        (ModelRef, transport::Completion, Vec<Attempt>, i64),
        (Vec<Attempt>, StepFailure),
    > {
        let mut attempts = Vec::new();
        if candidates.is_empty() {
            return Err((
                attempts,
                StepFailure::Provider(
                    step.id.clone(),
                    ProviderError::Unreachable {
                        detail: "no model is configured for this step: set the role's preferred_llm, a route for its task class, or run a local Ollama".to_owned(),
                    },
                ),
            ));
        }
        let providers = match providers_in(&lock(&open.db)) {
            Ok(p) => p,
            Err(e) => return Err((attempts, StepFailure::Error(e))),
        };
        let policy = RetryPolicy::default();
        let started = Instant::now();
        let mut last_error = ProviderError::Unreachable {
            detail: "no model answered".to_owned(),
        };
        for candidate in candidates {
            let model = &candidate.model;
            let Some(provider) = providers.iter().find(|p| p.name == model.provider) else {
                attempts.push(Attempt {
                    model: model.to_string(),
                    outcome: format!("no provider named {}", model.provider),
                });
                continue;
            };
            let key = match self.provider_key(open, provider) {
                Ok(key) => key,
                Err(e @ Error::KeychainUnavailable { .. }) => {
                    return Err((attempts, StepFailure::Error(e)));
                }
                Err(e) => {
                    attempts.push(Attempt {
                        model: model.to_string(),
                        outcome: e.to_string(),
                    });
                    continue;
                }
            };
            let endpoint = Endpoint {
                format: provider.format,
                base_url: provider.base_url.clone(),
            };
            let request = ChatRequest {
                model: model.model.clone(),
                system: prepared.assembled.system.clone(),
                prompt: prepared.assembled.prompt.clone(),
                max_tokens: step.max_tokens,
                temperature: step.temperature,
                output: match &prepared.shape {
                    Some(ResolvedShape::Json(schema)) => OutputFormat::Json {
                        schema: Some(schema.clone()),
                    },
                    _ => OutputFormat::Text,
                },
                idempotency_key: idempotency_key.clone(),
            };
            on_event(RunEvent::StepStarted {
                run,
                step: step.id.clone(),
                model: model.to_string(),
            });
            let _ = self.note_step_model(open, run, &step.id, model);
            let mut attempt = 0;
            loop {
                if cancel.is_cancelled() {
                    return Err((attempts, StepFailure::Cancelled));
                }
                let mut on_text = |text: &str| {
                    on_event(RunEvent::Text {
                        run,
                        step: step.id.clone(),
                        text: text.to_owned(),
                    });
                };
                let Some(_slot) = open.slots.take(&provider.name, cancel) else {
                    return Err((attempts, StepFailure::Cancelled));
                };
                match transport::stream_chat(
                    &endpoint,
                    key.as_ref(),
                    &request,
                    &Limits::default(),
                    cancel,
                    &mut on_text,
                ) {
                    Ok(completion) => {
                        attempts.push(Attempt {
                            model: model.to_string(),
                            outcome: "ok".to_owned(),
                        });
                        let latency =
                            i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
                        return Ok((model.clone(), completion, attempts, latency));
                    }
                    Err(ProviderError::Cancelled) => {
                        attempts.push(Attempt {
                            model: model.to_string(),
                            outcome: "cancelled".to_owned(),
                        });
                        return Err((attempts, StepFailure::Cancelled));
                    }
                    Err(error) => {
                        attempts.push(Attempt {
                            model: model.to_string(),
                            outcome: error.to_string(),
                        });
                        let wait = policy.wait_after(attempt, &error);
                        on_event(RunEvent::Retry {
                            run,
                            step: step.id.clone(),
                            model: model.to_string(),
                            error: error.clone(),
                            wait_ms: wait
                                .map_or(0, |w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX)),
                        });
                        last_error = error;
                        match wait {
                            Some(wait) => {
                                if !sleep_unless_cancelled(wait, cancel) {
                                    return Err((attempts, StepFailure::Cancelled));
                                }
                                attempt += 1;
                            }
                            None => break,
                        }
                    }
                }
            }
        }
        Err((attempts, StepFailure::Provider(step.id.clone(), last_error)))
    }

    /// A rubric's verdict from the judge role, as a gate result.
    fn judge(
        &self,
        open: &OpenVault,
        rubric: &str,
        output: &str,
        cancel: &Cancel,
    ) -> std::result::Result<GateResult, StepFailure> {
        let label = format!("rubric: {}", rubric.trim());
        let judge = Step {
            id: "judge".to_owned(),
            role: JUDGE_ROLE.to_owned(),
            needs: Vec::new(),
            task_class: "llm.judge".to_owned(),
            model: None,
            sources: Default::default(),
            shape: Some(ShapeRef::Json {
                json_schema: verdict_schema(),
            }),
            expectations: Vec::new(),
            task: String::new(),
            max_tokens: 512,
            temperature: Some(0.0),
        };
        let role = open
            .roles
            .get(JUDGE_ROLE)
            .ok_or_else(|| Error::not_found("role", JUDGE_ROLE))?;
        let task = format!(
            "Judge the text below against this rubric. Answer with JSON: pass (true only if the text fully meets the rubric), score from 0 to 10, and reasons.\n\nRubric: {}\n\nText:\n<<<\n{}\n>>>",
            rubric.trim(),
            output
        );
        let shape = ResolvedShape::Json(verdict_schema());
        let assembled = assemble::assemble(&AssemblyInput {
            role: JUDGE_ROLE,
            role_prompt: &role.system_prompt,
            candidates: Vec::new(),
            budget_tokens: 0,
            shape: Some(&shape),
            expectations: &[],
            resolved_counts: &[],
            task: &task,
        });
        let prepared = PreparedStep {
            assembled,
            shape: Some(shape),
            citations: Vec::new(),
        };
        let candidates = self.candidates(open, &judge, None)?;
        let mut ignore = |_: RunEvent| {};
        let (_, completion, _, _) = self
            .call_models(
                open,
                0,
                &judge,
                &prepared,
                &candidates,
                None,
                cancel,
                &mut ignore,
            )
            .map_err(|(_, failure)| failure)?;
        Ok(match gates::parse_json_output(&completion.text) {
            Some(v) if v.get("pass").and_then(Value::as_bool).is_some() => GateResult {
                expectation: label,
                passed: v["pass"].as_bool().unwrap_or(false),
                detail: v
                    .get("reasons")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .chars()
                    .take(1000)
                    .collect(),
            },
            _ => GateResult {
                expectation: label,
                passed: false,
                detail: "the judge's verdict is not the expected JSON".to_owned(),
            },
        })
    }

    fn step_started(
        &self,
        open: &OpenVault,
        run: i64,
        step: &Step,
        prepared: &PreparedStep,
    ) -> Result<()> {
        let sources = json!({
            "cited": prepared.assembled.sources,
            "cut": prepared.assembled.cut,
        });
        let db = lock(&open.db);
        db.execute(
            "UPDATE run_steps SET status = 'running', system_prompt = ?3, prompt = ?4, sources = ?5, started_at = ?6
             WHERE run_id = ?1 AND step = ?2",
            params![run, step.id, prepared.assembled.system, prepared.assembled.prompt, sources.to_string(), self.now()],
        )?;
        Ok(())
    }

    fn note_step_model(
        &self,
        open: &OpenVault,
        run: i64,
        step: &str,
        model: &ModelRef,
    ) -> Result<()> {
        if run == 0 {
            return Ok(());
        }
        lock(&open.db).execute(
            "UPDATE run_steps SET model = ?3 WHERE run_id = ?1 AND step = ?2",
            params![run, step, model.to_string()],
        )?;
        Ok(())
    }

    fn step_failed(
        &self,
        open: &OpenVault,
        run: i64,
        step: &str,
        attempts: &[Attempt],
        failure: &StepFailure,
    ) -> Result<()> {
        let (status, error) = match failure {
            StepFailure::Cancelled => ("cancelled", json!({"kind": "cancelled"})),
            StepFailure::Provider(_, e) => {
                ("failed", serde_json::to_value(e).unwrap_or(Value::Null))
            }
            StepFailure::Error(e) => ("failed", serde_json::to_value(e).unwrap_or(Value::Null)),
            StepFailure::Gates(_) => ("failed", Value::Null),
        };
        lock(&open.db).execute(
            "UPDATE run_steps SET status = ?3, error = ?4, attempts = ?5, finished_at = ?6 WHERE run_id = ?1 AND step = ?2",
            params![run, step, status, error.to_string(), serde_json::to_string(attempts).unwrap_or_default(), self.now()],
        )?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn step_finished(
        &self,
        open: &OpenVault,
        run: i64,
        step: &str,
        model: &ModelRef,
        output: &str,
        results: &[GateResult],
        attempts: &[Attempt],
        usage: Usage,
        cost: Option<u64>,
        latency: i64,
        passed: bool,
    ) -> Result<()> {
        lock(&open.db).execute(
            "UPDATE run_steps SET status = ?3, model = ?4, output = ?5, gates = ?6, attempts = ?7,
                input_tokens = ?8, output_tokens = ?9, cost_micros = ?10, latency_ms = ?11, finished_at = ?12
             WHERE run_id = ?1 AND step = ?2",
            params![
                run,
                step,
                if passed { "passed" } else { "failed" },
                model.to_string(),
                output,
                serde_json::to_string(results).unwrap_or_default(),
                serde_json::to_string(attempts).unwrap_or_default(),
                i64::try_from(usage.input_tokens).unwrap_or(i64::MAX),
                i64::try_from(usage.output_tokens).unwrap_or(i64::MAX),
                cost.map_or(0, |c| i64::try_from(c).unwrap_or(i64::MAX)),
                latency,
                self.now()
            ],
        )?;
        Ok(())
    }
}

/// Waits `wait`, waking early to see a cancel; false when cancelled.
fn sleep_unless_cancelled(wait: std::time::Duration, cancel: &Cancel) -> bool {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if cancel.is_cancelled() {
            return false;
        }
        std::thread::sleep(
            std::time::Duration::from_millis(25)
                .min(until.saturating_duration_since(Instant::now())),
        );
    }
    !cancel.is_cancelled()
}

/// What templates of a run for `task` see besides the play's parameters: `task` (id, title,
/// description) and `upstream`, the output of the last passed run of each task it depends on.
pub(super) fn task_context(db: &Connection, task: i64) -> Result<Map<String, Value>> {
    let found = crate::tasks::get(db, task)?;
    let mut upstream = Vec::new();
    for on in crate::tasks::dependencies(db, task)? {
        let dependency = crate::tasks::get(db, on)?;
        let output: Option<String> = db
            .query_row(
                "SELECT s.output FROM runs r JOIN run_steps s ON s.run_id = r.id
                 WHERE r.task_id = ?1 AND r.status = 'passed' AND s.status = 'passed'
                   AND s.output IS NOT NULL
                 ORDER BY r.id DESC, s.finished_at DESC, s.position DESC LIMIT 1",
                [on],
                |r| r.get(0),
            )
            .optional()?;
        upstream.push(json!({
            "task": on,
            "title": dependency.title,
            "output": output.unwrap_or_default(),
        }));
    }
    let mut context = Map::new();
    context.insert(
        "task".to_owned(),
        json!({"id": task, "title": found.title, "description": found.description}),
    );
    context.insert("upstream".to_owned(), Value::Array(upstream));
    Ok(context)
}

/// Parameters and the outputs of earlier steps, as templates see them.
fn template_context(
    play: &spec::Play,
    params: &Map<String, Value>,
    outputs: &Map<String, Value>,
) -> Value {
    let mut context = params.clone();
    context.insert("steps".to_owned(), Value::Object(outputs.clone()));
    context.insert(spec::TEXTS.to_owned(), json!(play.texts));
    Value::Object(context)
}

/// The given parameters checked against the play's, with defaults filled in.
fn bind_params(play: &spec::Play, given: &Map<String, Value>) -> Result<Map<String, Value>> {
    for name in given.keys() {
        if !play.parameters.iter().any(|p| &p.name == name) {
            let known: Vec<&str> = play.parameters.iter().map(|p| p.name.as_str()).collect();
            return Err(Error::invalid(
                &format!("params.{name}"),
                format!(
                    "is not a parameter of {} (it has: {})",
                    play.name,
                    known.join(", ")
                ),
            ));
        }
    }
    let mut out = Map::new();
    for p in &play.parameters {
        let value = match given.get(&p.name) {
            Some(v) => coerce(p.kind, v),
            None => match &p.default {
                Some(d) => d.clone(),
                None if p.required => {
                    return Err(Error::invalid(&format!("params.{}", p.name), "is required"));
                }
                None => Value::String(String::new()),
            },
        };
        spec::check_value(p, &value)
            .map_err(|m| Error::invalid(&format!("params.{}", p.name), m))?;
        out.insert(p.name.clone(), value);
    }
    Ok(out)
}

/// Text from a command line (`-p length=600`) as the parameter's type; anything else as given.
fn coerce(kind: ParameterKind, value: &Value) -> Value {
    let Value::String(s) = value else {
        return value.clone();
    };
    match kind {
        ParameterKind::Integer => s
            .trim()
            .parse::<i64>()
            .map_or_else(|_| value.clone(), Value::from),
        ParameterKind::Number => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| value.clone(), Value::Number),
        ParameterKind::Boolean => match s.trim() {
            "true" | "yes" => Value::Bool(true),
            "false" | "no" => Value::Bool(false),
            _ => value.clone(),
        },
        _ => value.clone(),
    }
}

/// Marks runs left `running` or `pending` by a process that died as `failed (interrupted)`,
/// with one audit event each; called at open.
pub(super) fn mark_interrupted(db: &mut Connection, now: Millis) -> Result<usize> {
    let tx = db.transaction()?;
    let runs: Vec<i64> = tx
        .prepare("SELECT id FROM runs WHERE status IN ('pending', 'running') ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for run in &runs {
        tx.execute(
            "UPDATE runs SET status = 'failed', reason = 'interrupted', message = 'Atelier stopped while the run was going; start it again', finished_at = ?2 WHERE id = ?1",
            params![run, now],
        )?;
        tx.execute(
            "UPDATE run_steps SET status = 'failed', error = '{\"kind\":\"interrupted\"}', finished_at = ?2
             WHERE run_id = ?1 AND status = 'running'",
            params![run, now],
        )?;
        tx.execute(
            "UPDATE run_steps SET status = 'skipped' WHERE run_id = ?1 AND status = 'pending'",
            [run],
        )?;
        audit::append(
            &tx,
            &Principal::Owner,
            &Entry {
                action: "run.interrupted",
                target: format!("run:{run}"),
                summary: format!("run {run} was interrupted by a stop and marked failed"),
            },
            now,
        )?;
    }
    tx.commit()?;
    Ok(runs.len())
}

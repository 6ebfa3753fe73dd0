//! The play engine: each step of a run prepared (ASSET), sent to its models in order with
//! retries and fallbacks, checked by its gates and the judge. What it needs from around it
//! (sources, candidates, sending, recording) comes through [`RunEnvironment`], so the engine
//! knows no vault and is tested on a stand-in.

use super::{Attempt, RunEvent};
use crate::catalog::{CanonBlock, Shape, ShapeKind};
use crate::error::{Error, Result};
use crate::plays::assemble::{
    self, Assembled, AssemblyInput, ResolvedShape, SourceCandidate, SourceKind,
};
use crate::plays::gates::{self, GateContext, GateResult};
use crate::plays::spec::{self, Count, Expectation, ParameterKind, ShapeRef, Step};
use crate::providers::pricing::PriceTable;
use crate::providers::routing::{Candidate, ModelRef};
use crate::providers::transport::{Cancel, Completion};
use crate::providers::{ChatRequest, OutputFormat, ProviderError, RetryPolicy, Usage};
use serde_json::{Map, Value, json};
use std::time::Instant;

/// The role that judges rubrics.
pub const JUDGE_ROLE: &str = "reviewer";

/// What the engine asks of the world around it.
pub trait RunEnvironment {
    /// A provider reached for one model (its endpoint and key).
    type Line;
    /// The system prompt of `role`; `NotFound` if there is no such role.
    fn role_prompt(&self, role: &str) -> Result<String>;
    /// The canon blocks tagged `tag`, in id order.
    fn canon(&self, tag: &str) -> Result<Vec<CanonBlock>>;
    /// Passages for a search, best first; empty when no embedding model is installed.
    fn passages(
        &self,
        query: String,
        project: Option<String>,
        limit: u32,
    ) -> Result<Vec<SourceCandidate>>;
    /// A named shape.
    fn shape(&self, name: &str) -> Result<Shape>;
    /// The models `step` would try, in order (`model` overrides routing).
    fn candidates(&self, step: &Step, model: Option<&str>) -> Result<Vec<Candidate>>;
    /// The provider that serves `model`, with its key.
    fn reach(&self, model: &ModelRef) -> std::result::Result<Self::Line, Unreached>;
    /// One streamed call; `None` when cancelled while waiting for the provider's slot.
    fn send(
        &self,
        line: &Self::Line,
        request: &ChatRequest,
        cancel: &Cancel,
        on_text: &mut dyn FnMut(&str),
    ) -> Option<std::result::Result<Completion, ProviderError>>;
    /// Writes what became of a step of run `run`.
    fn record(&self, run: i64, record: StepRecord<'_>) -> Result<()>;
}

/// Why a model could not be called.
#[derive(Debug)]
pub enum Unreached {
    /// This model cannot be called (no such provider, no key): the next one is tried.
    Skip(String),
    /// No model can be called (the keychain is unreachable): the step stops.
    Stop(Error),
}

/// What the engine writes about a step, as it goes.
#[derive(Debug)]
pub enum StepRecord<'a> {
    /// Its prompt is assembled and about to be sent.
    Started {
        /// Step id.
        step: &'a str,
        /// What is sent.
        prepared: &'a PreparedStep,
    },
    /// A model is being called for it.
    Model {
        /// Step id.
        step: &'a str,
        /// The model.
        model: &'a ModelRef,
    },
    /// No model answered, or the run was cancelled.
    Failed {
        /// Step id.
        step: &'a str,
        /// Every call tried.
        attempts: &'a [Attempt],
        /// Why.
        failure: &'a StepFailure,
    },
    /// A model answered and the gates were checked.
    Finished(&'a StepOutcome),
}

/// A step that got an answer.
#[derive(Debug)]
pub struct StepOutcome {
    /// Step id.
    pub step: String,
    /// The model that answered.
    pub model: ModelRef,
    /// The answer.
    pub output: String,
    /// Its gates.
    pub gates: Vec<GateResult>,
    /// Every call tried.
    pub attempts: Vec<Attempt>,
    /// Tokens.
    pub usage: Usage,
    /// Millionths of a dollar, if the model is priced.
    pub cost: Option<u64>,
    /// From the first call to the answer.
    pub latency_ms: i64,
    /// Whether every gate passed.
    pub passed: bool,
}

/// Why a run stopped early.
#[derive(Debug)]
pub enum StepFailure {
    /// The step's gates did not pass.
    Gates(String),
    /// No model answered the step.
    Provider(String, ProviderError),
    /// Cancelled (by the user or the kill switch).
    Cancelled,
    /// Anything else.
    Error(Error),
}

impl From<Error> for StepFailure {
    fn from(e: Error) -> Self {
        StepFailure::Error(e)
    }
}

/// A step ready to send.
#[derive(Debug)]
pub struct PreparedStep {
    /// The ASSET prompt.
    pub assembled: Assembled,
    /// Its structured output, resolved.
    pub shape: Option<ResolvedShape>,
    /// What it may cite.
    pub citations: Vec<String>,
}

/// One run to carry out: the play's steps in `order`, with bound parameters.
#[derive(Debug, Clone, Copy)]
pub struct RunPlan<'a> {
    /// Run id (for events and records).
    pub run: i64,
    /// The play.
    pub play: &'a spec::Play,
    /// Step indexes in run order.
    pub order: &'a [usize],
    /// Parameters, checked.
    pub params: &'a Map<String, Value>,
    /// `provider:model` for every step, overriding routing.
    pub model: Option<&'a str>,
    /// The run's idempotency key; each call sends it with the step.
    pub idempotency_key: Option<&'a str>,
    /// Prices of models.
    pub prices: &'a PriceTable,
}

/// Runs every step of `plan` in order, stopping at the first that fails.
pub fn run_steps<E: RunEnvironment>(
    env: &E,
    plan: &RunPlan<'_>,
    cancel: &Cancel,
    on_event: &mut dyn FnMut(RunEvent),
) -> std::result::Result<(), StepFailure> {
    let run = plan.run;
    let mut outputs = Map::new();
    for &index in plan.order {
        if cancel.is_cancelled() {
            return Err(StepFailure::Cancelled);
        }
        let step = &plan.play.steps[index];
        let context = template_context(plan.play, plan.params, &outputs);
        let prepared = prepare_step(env, step, &context)?;
        env.record(
            run,
            StepRecord::Started {
                step: &step.id,
                prepared: &prepared,
            },
        )?;
        let candidates = env.candidates(step, plan.model)?;
        let key = plan.idempotency_key.map(|k| format!("{k}:{}", step.id));
        let answer = call_models(
            env,
            run,
            step,
            &prepared,
            &candidates,
            key,
            cancel,
            on_event,
        );
        let (model, completion, attempts, latency_ms) = match answer {
            Ok(a) => a,
            Err((attempts, failure)) => {
                env.record(
                    run,
                    StepRecord::Failed {
                        step: &step.id,
                        attempts: &attempts,
                        failure: &failure,
                    },
                )?;
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
                results.push(judge(env, rubric, &completion.text, cancel)?);
            }
        }
        let passed = results.iter().all(|g| g.passed);
        let cost = plan
            .prices
            .cost_micros(&model.provider, &model.model, completion.usage);
        let outcome = StepOutcome {
            step: step.id.clone(),
            model,
            output: completion.text,
            gates: results,
            attempts,
            usage: completion.usage,
            cost,
            latency_ms,
            passed,
        };
        env.record(run, StepRecord::Finished(&outcome))?;
        on_event(RunEvent::StepFinished {
            run,
            step: step.id.clone(),
            status: if passed { "passed" } else { "failed" }.to_owned(),
            gates: outcome.gates,
        });
        if !passed {
            return Err(StepFailure::Gates(step.id.clone()));
        }
        outputs.insert(step.id.clone(), json!({"output": outcome.output}));
    }
    Ok(())
}

/// Sources, shape and task of `step`. Reading sources is authorized before a run begins (the
/// caller and the step's role both hold `vault_read`), so the environment searches unchecked.
pub fn prepare_step<E: RunEnvironment>(
    env: &E,
    step: &Step,
    context: &Value,
) -> Result<PreparedStep> {
    let role_prompt = env.role_prompt(&step.role)?;
    let render = |field: &str, t: &str| {
        crate::plays::template::render(t, context)
            .map_err(|m| Error::invalid(&format!("step {} {field}", step.id), m))
    };
    let task = render("task", &step.task)?;
    let mut canon = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for tag in &step.sources.canon_tags {
        for block in env.canon(tag)? {
            if seen.insert(block.id) {
                canon.push((
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
    // Canon tier first, then secondary, each in id order.
    canon.sort_by_key(|(canon, _)| !*canon);
    let mut candidates: Vec<SourceCandidate> = canon.into_iter().map(|(_, c)| c).collect();
    if let Some(query) = &step.sources.search {
        let query = render("sources.search", query)?;
        let project = match &step.sources.project {
            Some(p) => Some(render("sources.project", p)?).filter(|p| !p.trim().is_empty()),
            None => None,
        };
        if !query.trim().is_empty() {
            candidates.extend(env.passages(query, project, step.sources.passages.clamp(1, 100))?);
        }
    }
    let shape = match &step.shape {
        None => None,
        Some(ShapeRef::Markdown { markdown }) => Some(ResolvedShape::Markdown(markdown.clone())),
        Some(ShapeRef::Json { json_schema }) => Some(ResolvedShape::Json(json_schema.clone())),
        Some(ShapeRef::Named(name)) => {
            let shape = env.shape(name)?;
            Some(match shape.kind {
                ShapeKind::Markdown => ResolvedShape::Markdown(shape.body),
                ShapeKind::JsonSchema => ResolvedShape::Json(
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
                gates::resolve_count(c, context)
                    .map_err(|m| Error::invalid(&format!("step {} expectations", step.id), m))?,
            );
        }
    }
    let assembled = assemble::assemble(&AssemblyInput {
        role: &step.role,
        role_prompt: &role_prompt,
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

/// A model's answer: who answered, what, every call tried, and the time to the answer (ms).
type Answer = (ModelRef, Completion, Vec<Attempt>, i64);

/// Tries each candidate in turn, retrying per [`RetryPolicy`].
#[allow(clippy::too_many_arguments)]
pub fn call_models<E: RunEnvironment>(
    env: &E,
    run: i64,
    step: &Step,
    prepared: &PreparedStep,
    candidates: &[Candidate],
    idempotency_key: Option<String>,
    cancel: &Cancel,
    on_event: &mut dyn FnMut(RunEvent),
) -> std::result::Result<Answer, (Vec<Attempt>, StepFailure)> {
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
    let policy = RetryPolicy::default();
    let started = Instant::now();
    let mut last_error = ProviderError::Unreachable {
        detail: "no model answered".to_owned(),
    };
    for candidate in candidates {
        let model = &candidate.model;
        let line = match env.reach(model) {
            Ok(line) => line,
            Err(Unreached::Stop(e)) => return Err((attempts, StepFailure::Error(e))),
            Err(Unreached::Skip(outcome)) => {
                attempts.push(Attempt {
                    model: model.to_string(),
                    outcome,
                });
                continue;
            }
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
        // The judge's calls (run 0) belong to no step row.
        if run != 0 {
            let _ = env.record(
                run,
                StepRecord::Model {
                    step: &step.id,
                    model,
                },
            );
        }
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
            let Some(sent) = env.send(&line, &request, cancel, &mut on_text) else {
                return Err((attempts, StepFailure::Cancelled));
            };
            match sent {
                Ok(completion) => {
                    attempts.push(Attempt {
                        model: model.to_string(),
                        outcome: "ok".to_owned(),
                    });
                    let latency = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
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

/// A rubric's verdict from the judge role, as a gate result.
pub fn judge<E: RunEnvironment>(
    env: &E,
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
    let role_prompt = env.role_prompt(JUDGE_ROLE)?;
    let task = format!(
        "Judge the text below against this rubric. Answer with JSON: pass (true only if the text fully meets the rubric), score from 0 to 10, and reasons.\n\nRubric: {}\n\nText:\n<<<\n{}\n>>>",
        rubric.trim(),
        output
    );
    let shape = ResolvedShape::Json(verdict_schema());
    let assembled = assemble::assemble(&AssemblyInput {
        role: JUDGE_ROLE,
        role_prompt: &role_prompt,
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
    let candidates = env.candidates(&judge, None)?;
    let mut ignore = |_: RunEvent| {};
    let (_, completion, _, _) = call_models(
        env,
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

/// Parameters and the outputs of earlier steps, as templates see them.
pub fn template_context(
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
pub fn bind_params(play: &spec::Play, given: &Map<String, Value>) -> Result<Map<String, Value>> {
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

#[cfg(test)]
mod tests;

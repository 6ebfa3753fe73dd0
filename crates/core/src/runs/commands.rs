//! The run commands: plays listed and shown, a run previewed, started, cancelled, listed and
//! shown. A run is carried out by the [`engine`](super::engine) inside [`InVault`], which
//! gives it the vault's roles, canon, search, routes, providers and keys and records its steps.

use super::engine::{self, RunEnvironment, StepFailure, StepRecord, Unreached};
use super::records;
use super::{RunEvent, RunPreview, RunRequest, RunView, StepPreview};
use crate::access::audit::{Entry, Target};
use crate::access::auth::{Capability, Principal};
use crate::assets::Banked;
use crate::catalog::{self, CanonBlock, Shape};
use crate::documents::search::{SearchFilter, SearchMode};
use crate::error::{Error, Result};
use crate::input;
use crate::plays::adhoc;
use crate::plays::assemble::{SourceCandidate, SourceKind};
use crate::plays::spec::{self, Step};
use crate::plays::{LoadedPlay, PlaySet};
use crate::providers::commands::ProviderView;
use crate::providers::pricing::PriceTable;
use crate::providers::routing::{self, Candidate, ModelRef, RoutingInput};
use crate::providers::store::{providers_in, routes_in};
use crate::providers::transport::{self, Cancel, Completion, Endpoint, Limits};
use crate::providers::{ChatRequest, ProviderError};
use crate::secrets::Secret;
use crate::vault::{Atelier, OpenVault, authorize_with, lock};
use serde_json::{Map, Value, json};

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
    pub(crate) fn requested_play(&self, request: &RunRequest) -> Result<LoadedPlay> {
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
        let params = engine::bind_params(&loaded.play, &request.params)?;
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
            let context = engine::template_context(&loaded.play, &params, &outputs);
            let env = InVault {
                atelier: self,
                open,
            };
            let prepared = engine::prepare_step(&env, step, &context)?;
            let candidates = env.candidates(step, request.model.as_deref())?;
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
        let params = engine::bind_params(&loaded.play, &request.params)?;
        let order =
            spec::order(&loaded.play.steps).map_err(|c| Error::invalid("play", c.join(" → ")))?;
        for step in &loaded.play.steps {
            self.step_allowed(open, who, step)?;
        }
        if let Some(task) = request.task {
            crate::tasks::get(&lock(&open.db), task)?;
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
            for (name, value) in records::task_context(&db, task)? {
                // A parameter of the play's own with the same name wins.
                params.entry(name).or_insert(value);
            }
        }
        let prices = self.prices()?;
        let run = self.write(who, Capability::RunPlays, |ctx| {
            let new = records::NewRun {
                play: &loaded.play,
                play_text: &loaded.text,
                params: &params,
                principal: who,
                task: request.task,
                idempotency_key: request.idempotency_key.as_deref(),
            };
            let run = records::insert(ctx.tx, &new, ctx.now)?;
            Ok((
                run,
                Entry {
                    action: "run.start",
                    target: Target::Run(run),
                    summary: format!(
                        "started play {} ({})",
                        loaded.play.name,
                        &loaded.play.version[..12]
                    ),
                },
            ))
        })?;
        on_event(RunEvent::Started { run });
        let cancel = self.run_cancel_token();
        lock(&open.runs).insert(run, cancel.clone());
        let plan = engine::RunPlan {
            run,
            play: &loaded.play,
            order: &order,
            params: &params,
            model: request.model.as_deref(),
            idempotency_key: request.idempotency_key.as_deref(),
            prices: &prices,
        };
        let outcome = engine::run_steps(
            &InVault {
                atelier: self,
                open,
            },
            &plan,
            &cancel,
            on_event,
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
            records::finish(ctx.tx, run, status, reason, message.as_deref(), ctx.now)?;
            Ok((
                (),
                Entry {
                    action: "run.finish",
                    target: Target::Run(run),
                    summary: format!(
                        "run {run} {status}{}",
                        reason.map_or_else(String::new, |r| format!(" ({r})"))
                    ),
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
                    records::set_message(
                        &lock(&open.db),
                        run,
                        &format!("passed, but not banked: {e}"),
                    )?;
                }
            }
        }
        on_event(RunEvent::Finished {
            run,
            status: status.to_owned(),
        });
        records::view(&lock(&open.db), run)
    }

    /// The run that passed under `key`, banked if its play banks and a crash came between the
    /// two; `None` if no run passed under it.
    fn passed_under_key(
        &self,
        open: &OpenVault,
        who: &Principal,
        key: &str,
    ) -> Result<Option<RunView>> {
        let passed = records::passed_under_key(&lock(&open.db), key)?;
        let Some(run) = passed else {
            return Ok(None);
        };
        if records::view(&lock(&open.db), run)?.asset.is_none() {
            self.bank_passed_run(who, run)?;
        }
        Ok(Some(records::view(&lock(&open.db), run)?))
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
            records::newest(db, limit.clamp(1, 500))?
                .into_iter()
                .map(|id| records::view(db, id))
                .collect()
        })
    }

    /// One run with its steps. Needs `vault_read`.
    pub fn run_show(&self, who: &Principal, run: i64) -> Result<RunView> {
        self.read(who, Capability::VaultRead, |db, _| records::view(db, run))
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

/// The engine's environment inside an open vault.
struct InVault<'a> {
    atelier: &'a Atelier,
    open: &'a OpenVault,
}

impl RunEnvironment for InVault<'_> {
    type Line = (ProviderView, Option<Secret>);

    fn role_prompt(&self, role: &str) -> Result<String> {
        self.open
            .roles
            .get(role)
            .map(|r| r.system_prompt.clone())
            .ok_or_else(|| Error::not_found("role", role))
    }

    fn canon(&self, tag: &str) -> Result<Vec<CanonBlock>> {
        catalog::canon_list(&lock(&self.open.db), Some(tag), None)
    }

    fn passages(
        &self,
        query: String,
        project: Option<String>,
        limit: u32,
    ) -> Result<Vec<SourceCandidate>> {
        let hits = self.atelier.search(
            &Principal::Owner,
            crate::documents::commands::SearchRequest {
                query,
                mode: SearchMode::Hybrid,
                filter: SearchFilter {
                    project,
                    ..SearchFilter::default()
                },
                limit: Some(limit),
                // Sources are passages: several of one document may each earn a place.
                passages: true,
                ..Default::default()
            },
        );
        let hits = match hits {
            Ok(hits) => hits,
            // No embedding model: fall back to words, which need none.
            Err(Error::ModelMissing { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let db = lock(&self.open.db);
        let mut passages = Vec::new();
        for hit in hits {
            if let Some(body) = crate::documents::store::chunk_body(&db, hit.source.chunk)? {
                let title = if hit.source.heading.is_empty() {
                    format!("{}/{}", hit.source.project, hit.source.path)
                } else {
                    format!(
                        "{}/{} › {}",
                        hit.source.project, hit.source.path, hit.source.heading
                    )
                };
                passages.push(SourceCandidate {
                    kind: SourceKind::Passage,
                    title,
                    reference: format!("chunk:{}", hit.source.chunk),
                    text: body,
                });
            }
        }
        Ok(passages)
    }

    fn shape(&self, name: &str) -> Result<Shape> {
        catalog::shape_get(&lock(&self.open.db), name)
    }

    fn candidates(&self, step: &Step, model: Option<&str>) -> Result<Vec<Candidate>> {
        self.atelier.candidates(self.open, step, model)
    }

    fn reach(&self, model: &ModelRef) -> std::result::Result<Self::Line, Unreached> {
        let providers = providers_in(&lock(&self.open.db)).map_err(Unreached::Stop)?;
        let Some(provider) = providers.into_iter().find(|p| p.name == model.provider) else {
            return Err(Unreached::Skip(format!(
                "no provider named {}",
                model.provider
            )));
        };
        match self.atelier.provider_key(self.open, &provider) {
            Ok(key) => Ok((provider, key)),
            Err(e @ Error::KeychainUnavailable { .. }) => Err(Unreached::Stop(e)),
            Err(e) => Err(Unreached::Skip(e.to_string())),
        }
    }

    fn send(
        &self,
        (provider, key): &Self::Line,
        request: &ChatRequest,
        cancel: &Cancel,
        on_text: &mut dyn FnMut(&str),
    ) -> Option<std::result::Result<Completion, ProviderError>> {
        let endpoint = Endpoint {
            format: provider.format,
            base_url: provider.base_url.clone(),
        };
        let _slot = self.open.slots.take(&provider.name, cancel)?;
        Some(transport::stream_chat(
            &endpoint,
            key.as_ref(),
            request,
            &Limits::default(),
            cancel,
            on_text,
        ))
    }

    fn record(&self, run: i64, record: StepRecord<'_>) -> Result<()> {
        records::record_step(&lock(&self.open.db), run, &record, self.atelier.now())
    }
}

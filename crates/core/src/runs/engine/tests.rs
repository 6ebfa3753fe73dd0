//! The engine on a stand-in environment: no vault, no provider, every call it makes seen.
//! (TESTING.md, layer "Unit": pure logic inside the module that owns it.)

use super::*;
use crate::catalog::Tier;
use crate::providers::routing::Origin;
use std::cell::RefCell;
use std::collections::VecDeque;

/// A world the test writes: roles, canon, passages, models and what each call answers.
#[derive(Default)]
struct StandIn {
    canon: Vec<CanonBlock>,
    passages: Vec<SourceCandidate>,
    candidates: Vec<&'static str>,
    /// Providers that cannot be reached (no key).
    unreachable: Vec<&'static str>,
    answers: RefCell<VecDeque<std::result::Result<&'static str, ProviderError>>>,
    sent: RefCell<Vec<(String, ChatRequest)>>,
    records: RefCell<Vec<String>>,
    searched: RefCell<Vec<(String, Option<String>, u32)>>,
}

impl RunEnvironment for StandIn {
    type Line = ModelRef;

    fn role_prompt(&self, role: &str) -> Result<String> {
        match role {
            "writer" | JUDGE_ROLE => Ok(format!("You are the {role}.")),
            _ => Err(Error::not_found("role", role)),
        }
    }

    fn canon(&self, tag: &str) -> Result<Vec<CanonBlock>> {
        Ok(self
            .canon
            .iter()
            .filter(|b| b.tags.iter().any(|t| t == tag))
            .cloned()
            .collect())
    }

    fn passages(
        &self,
        query: String,
        project: Option<String>,
        limit: u32,
    ) -> Result<Vec<SourceCandidate>> {
        self.searched.borrow_mut().push((query, project, limit));
        Ok(self.passages.clone())
    }

    fn shape(&self, name: &str) -> Result<Shape> {
        Err(Error::not_found("shape", name))
    }

    fn candidates(&self, _step: &Step, model: Option<&str>) -> Result<Vec<Candidate>> {
        let names = match model {
            Some(m) => vec![m],
            None => self.candidates.clone(),
        };
        Ok(names
            .into_iter()
            .map(|m| Candidate {
                model: ModelRef::parse(m).expect("provider:model"),
                origin: Origin::Route,
            })
            .collect())
    }

    fn reach(&self, model: &ModelRef) -> std::result::Result<ModelRef, Unreached> {
        if self.unreachable.contains(&model.provider.as_str()) {
            return Err(Unreached::Skip(format!("no key for {}", model.provider)));
        }
        Ok(model.clone())
    }

    fn send(
        &self,
        line: &ModelRef,
        request: &ChatRequest,
        _cancel: &Cancel,
        on_text: &mut dyn FnMut(&str),
    ) -> Option<std::result::Result<Completion, ProviderError>> {
        self.sent
            .borrow_mut()
            .push((line.to_string(), request.clone()));
        let answer = self
            .answers
            .borrow_mut()
            .pop_front()
            .expect("the test scripted an answer for every call");
        Some(answer.map(|text| {
            on_text(text);
            Completion {
                text: text.to_owned(),
                usage: Usage {
                    input_tokens: 10,
                    output_tokens: 5,
                },
                stop: None,
            }
        }))
    }

    fn record(&self, run: i64, record: StepRecord<'_>) -> Result<()> {
        let line = match record {
            StepRecord::Started { step, .. } => format!("{run} {step} started"),
            StepRecord::Model { step, model } => format!("{run} {step} model {model}"),
            StepRecord::Failed {
                step,
                attempts,
                failure,
            } => format!("{run} {step} failed after {} ({failure:?})", attempts.len()),
            StepRecord::Finished(o) => format!(
                "{run} {} finished by {} passed={} attempts={}",
                o.step,
                o.model,
                o.passed,
                o.attempts
                    .iter()
                    .map(|a| format!("{}={}", a.model, a.outcome))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
        };
        self.records.borrow_mut().push(line);
        Ok(())
    }
}

fn block(id: i64, tier: Tier, title: &str) -> CanonBlock {
    CanonBlock {
        id,
        title: title.to_owned(),
        body: format!("{title} body."),
        tags: vec!["world".to_owned()],
        tier,
        created_at: 0,
        updated_at: 0,
    }
}

fn play(step: &str) -> spec::Play {
    let text = format!(
        "name: demo\ntitle: Demo\nparameters:\n  - name: premise\n    type: text\nsteps:\n  - id: s\n    role: writer\n{step}    task: Write about {{{{ premise }}}}.\n"
    );
    spec::parse("demo.yaml", &text).expect("the play parses")
}

fn params(premise: &str) -> Map<String, Value> {
    let mut params = Map::new();
    params.insert("premise".to_owned(), json!(premise));
    params
}

fn run(
    env: &StandIn,
    play: &spec::Play,
    events: &mut Vec<RunEvent>,
) -> std::result::Result<(), StepFailure> {
    let prices = PriceTable::load(None).expect("shipped prices");
    let params = params("a lighthouse");
    let plan = RunPlan {
        run: 7,
        play,
        order: &[0],
        params: &params,
        model: None,
        idempotency_key: Some("key"),
        prices: &prices,
    };
    run_steps(env, &plan, &Cancel::default(), &mut |e| events.push(e))
}

#[test]
fn a_step_is_prepared_with_canon_first_then_passages_and_its_templates_rendered() {
    let env = StandIn {
        canon: vec![
            block(1, Tier::Secondary, "Harbour notes"),
            block(2, Tier::Canon, "The coast"),
            block(3, Tier::Canon, "Elsewhere"),
        ],
        passages: vec![SourceCandidate {
            kind: SourceKind::Passage,
            title: "notes/sea.md".to_owned(),
            reference: "chunk:9".to_owned(),
            text: "The sea is grey.".to_owned(),
        }],
        ..StandIn::default()
    };
    let mut env = env;
    env.canon[2].tags = vec!["other".to_owned()];
    let play = play(
        "    sources:\n      canon_tags: [world]\n      search: \"{{ premise }} at night\"\n      project: notes\n      passages: 3\n",
    );
    let context = template_context(&play, &params("a lighthouse"), &Map::new());
    let prepared = prepare_step(&env, &play.steps[0], &context).expect("prepared");

    let references: Vec<&str> = prepared
        .assembled
        .sources
        .iter()
        .map(|s| s.source.reference.as_str())
        .collect();
    assert_eq!(references, ["canon:2", "canon:1", "chunk:9"]);
    assert_eq!(prepared.citations.len(), 3);
    assert_eq!(
        env.searched.borrow().as_slice(),
        [(
            "a lighthouse at night".to_owned(),
            Some("notes".to_owned()),
            3
        )]
    );
    assert!(prepared.assembled.system.contains("You are the writer."));
    assert!(
        prepared
            .assembled
            .prompt
            .contains("Write about a lighthouse."),
        "{}",
        prepared.assembled.prompt
    );
    assert!(prepared.shape.is_none());
}

#[test]
fn a_step_of_an_unknown_role_is_not_prepared() {
    let env = StandIn::default();
    let mut play = play("");
    play.steps[0].role = "nobody".to_owned();
    let context = template_context(&play, &params("x"), &Map::new());
    let e = prepare_step(&env, &play.steps[0], &context).expect_err("refused");
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
}

#[test]
fn models_are_tried_in_order_retrying_then_falling_back() {
    let env = StandIn {
        candidates: vec!["a:one", "b:two", "c:three"],
        unreachable: vec!["a"],
        answers: RefCell::new(VecDeque::from([
            Err(ProviderError::RateLimited {
                retry_after_ms: Some(1),
                message: "slow down".to_owned(),
            }),
            Err(ProviderError::Rejected {
                status: 400,
                message: "bad".to_owned(),
            }),
            Ok("A lighthouse."),
        ])),
        ..StandIn::default()
    };
    let mut events = Vec::new();
    run(&env, &play(""), &mut events).expect("the run passes");

    let sent: Vec<String> = env.sent.borrow().iter().map(|(m, _)| m.clone()).collect();
    assert_eq!(sent, ["b:two", "b:two", "c:three"]);
    for (_, request) in env.sent.borrow().iter() {
        assert_eq!(request.idempotency_key.as_deref(), Some("key:s"));
        assert!(request.prompt.contains("Write about a lighthouse."));
    }
    let records = env.records.borrow();
    assert_eq!(records[0], "7 s started");
    assert_eq!(records[1], "7 s model b:two");
    assert_eq!(records[2], "7 s model c:three");
    assert!(
        records[3].starts_with("7 s finished by c:three passed=true attempts=a:one=no key for a | b:two=the provider is rate limiting"),
        "{}",
        records[3]
    );
    assert!(records[3].ends_with("| c:three=ok"), "{}", records[3]);
    let retries: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Retry { wait_ms, .. } => Some(*wait_ms),
            _ => None,
        })
        .collect();
    // The rate limit asked for 1 ms; the refusal is not retried, so the next model is tried.
    assert_eq!(retries, [1, 0]);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::Text { text, .. } if text == "A lighthouse."))
    );
    assert!(matches!(
        events.last(),
        Some(RunEvent::StepFinished { status, .. }) if status == "passed"
    ));
}

#[test]
fn a_step_no_model_answers_fails_with_the_last_error_and_is_recorded() {
    let env = StandIn {
        candidates: vec!["b:two"],
        answers: RefCell::new(VecDeque::from([Err(ProviderError::Unauthorized {
            status: 401,
        })])),
        ..StandIn::default()
    };
    let failure = run(&env, &play(""), &mut Vec::new()).expect_err("fails");
    assert!(
        matches!(&failure, StepFailure::Provider(step, ProviderError::Unauthorized { status: 401 }) if step == "s"),
        "{failure:?}"
    );
    assert!(env.records.borrow()[2].starts_with("7 s failed after 1 (Provider"));

    let none = StandIn::default();
    let failure = run(&none, &play(""), &mut Vec::new()).expect_err("fails");
    assert!(matches!(
        failure,
        StepFailure::Provider(_, ProviderError::Unreachable { .. })
    ));
    assert!(none.sent.borrow().is_empty());
}

#[test]
fn a_rubric_is_judged_by_the_reviewer_and_its_verdict_decides_the_step() {
    let env = StandIn {
        candidates: vec!["b:two"],
        answers: RefCell::new(VecDeque::from([
            Ok("A lighthouse on a hill."),
            Ok(r#"{"pass": false, "score": 3, "reasons": "the sea is missing"}"#),
        ])),
        ..StandIn::default()
    };
    let mut events = Vec::new();
    let failure = run(
        &env,
        &play("    expectations:\n      - rubric: mentions the sea\n"),
        &mut events,
    )
    .expect_err("the verdict fails the step");
    assert!(matches!(&failure, StepFailure::Gates(step) if step == "s"));

    let sent = env.sent.borrow();
    assert_eq!(sent.len(), 2);
    let (_, verdict) = &sent[1];
    assert!(verdict.system.contains("You are the reviewer."));
    assert!(verdict.prompt.contains("Rubric: mentions the sea"));
    assert!(verdict.prompt.contains("A lighthouse on a hill."));
    assert!(matches!(verdict.output, OutputFormat::Json { .. }));
    assert_eq!(verdict.idempotency_key, None);
    // The judge's call is no step of the run: only the step's own model is recorded.
    let records = env.records.borrow();
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(records[2].contains("passed=false"), "{}", records[2]);
    let Some(RunEvent::StepFinished { gates, status, .. }) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(status, "failed");
    let verdict = gates.last().expect("the rubric's gate");
    assert_eq!(verdict.expectation, "rubric: mentions the sea");
    assert!(!verdict.passed);
    assert_eq!(verdict.detail, "the sea is missing");
}

#[test]
fn a_cancelled_run_sends_nothing() {
    let env = StandIn {
        candidates: vec!["b:two"],
        ..StandIn::default()
    };
    let prices = PriceTable::load(None).expect("prices");
    let params = params("x");
    let play = play("");
    let cancel = Cancel::default();
    cancel.cancel();
    let plan = RunPlan {
        run: 7,
        play: &play,
        order: &[0],
        params: &params,
        model: None,
        idempotency_key: None,
        prices: &prices,
    };
    let failure = run_steps(&env, &plan, &cancel, &mut |_| {}).expect_err("cancelled");
    assert!(matches!(failure, StepFailure::Cancelled));
    assert!(env.sent.borrow().is_empty());
}

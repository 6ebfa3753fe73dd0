//! Document-intelligence benchmarks, the Rust side; `scripts/bench-docs.sh` runs them next to
//! their Python peers (sentence-transformers, Chroma) on the same data and prints the ratios.
//!
//! - `passages DIR`: the passages ingest makes of the Markdown and reStructuredText under DIR
//!   (parsed and chunked by the same code, counted with the model's tokenizer), printed as a
//!   JSON array of the texts that are embedded: the real text both embedders are timed on.
//! - `embed TEXTS.json`: passages per second of our embedder on the texts (a JSON array).
//! - `knn VECTORS.f32 QUERIES.f32 K`: Qdrant Edge at N×384 vectors (raw little-endian f32):
//!   build time, p50/p99 query latency and recall@K against exact search.
//! - `ingest DIR`: a fresh vault ingests the folder; time per stage.
//! - `latency DIR`: with the watch loop running, a file edit until the new words are found by
//!   full-text and by vector search.
//!
//! Each prints one JSON object on stdout.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on stdout"
)]

use atelier_core::access::auth::Principal;
use atelier_core::api::{ProjectAdd, SearchRequest, WatchOptions};
use atelier_core::documents::search::{SearchFilter, SearchMode};
use atelier_core::documents::{store, walk};
use atelier_core::embed::{self, Embedder};
use atelier_core::projection::vectors::Vectors;
use atelier_core::{Atelier, OpenOptions, clock::SystemClock};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let arg = |i: usize| -> &str { args.get(i).map(String::as_str).unwrap_or_default() };
    match arg(0) {
        "passages" => print_passages(Path::new(arg(1))),
        "embed" => bench_embed(Path::new(arg(1))),
        "knn" => bench_knn(
            Path::new(arg(1)),
            Path::new(arg(2)),
            arg(3).parse().unwrap_or(10),
        ),
        "ingest" => bench_ingest(Path::new(arg(1))),
        "latency" => bench_latency(Path::new(arg(1))),
        other => {
            eprintln!(
                "usage: docs (passages DIR | embed TEXTS.json | knn VECTORS.f32 QUERIES.f32 K | ingest DIR | latency DIR); got {other:?}"
            );
            std::process::exit(2);
        }
    }
}

fn model() -> Embedder {
    let dir = embed::locate(&embed::search_path(
        Path::new("/nonexistent"),
        &atelier_core::vault::process_env,
    ))
    .expect("the model (scripts/install-deps.sh installs it)");
    Embedder::load(&dir).expect("load the model")
}

fn print_passages(root: &Path) {
    let embedder = model();
    // The ingest's own walk and read, with caps no corpus page reaches.
    let caps = walk::Caps {
        text: u64::MAX,
        attachment: 0,
    };
    let mut found = walk::walk(root, caps, 0).files;
    found.sort_by(|a, b| a.path.cmp(&b.path));
    let mut texts = Vec::new();
    for file in found
        .iter()
        .filter(|f| f.path.ends_with(".md") || f.path.ends_with(".rst"))
    {
        let walk::Content::Text(text) = walk::read_text(root, &file.path, u64::MAX) else {
            continue;
        };
        let prepared = store::prepare(&file.path, &text, String::new(), 0, 0, &embedder);
        texts.extend(prepared.passages.into_iter().map(|p| p.text));
    }
    println!("{}", serde_json::Value::from(texts));
}

fn bench_embed(texts: &Path) {
    let texts: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(texts).expect("texts")).expect("json");
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embedder = model();
    // Warm-up on a few, as the Python side does.
    embedder
        .embed(&refs[..refs.len().min(16)])
        .expect("warm up");
    let started = Instant::now();
    let vectors = embedder.embed(&refs).expect("embed");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(vectors.len(), texts.len());
    println!(
        "{}",
        serde_json::json!({"texts": texts.len(), "seconds": seconds, "per_second": texts.len() as f64 / seconds,
                           "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)})
    );
}

fn read_f32(path: &Path) -> Vec<Vec<f32>> {
    let bytes = std::fs::read(path).expect("vectors");
    bytes
        .chunks_exact(embed::DIMENSIONS * 4)
        .map(|row| {
            row.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn bench_knn(vectors: &Path, queries: &Path, k: usize) {
    let data = read_f32(vectors);
    let queries = read_f32(queries);
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let index = Vectors::open(&dir.path().join("vectors")).expect("open");
    for (start, batch) in data.chunks(2048).enumerate() {
        let points: Vec<(u64, Vec<f32>)> = batch
            .iter()
            .enumerate()
            .map(|(i, v)| ((start * 2048 + i) as u64, v.clone()))
            .collect();
        index.upsert_raw(points).expect("upsert");
    }
    let loaded = started.elapsed().as_secs_f64();
    index.optimize().expect("optimize");
    let built = started.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(queries.len());
    let mut recall = 0.0;
    for query in &queries {
        let started = Instant::now();
        let hits = index.nearest(query, None, k).expect("query");
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        let exact = exact_top(&data, query, k);
        let found = hits
            .iter()
            .filter(|h| exact.contains(&(h.chunk as usize)))
            .count();
        recall += found as f64 / k as f64;
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({"vectors": data.len(), "queries": queries.len(), "k": k,
            "load_seconds": loaded, "build_seconds": built,
            "p50_ms": percentile(&latencies, 0.5), "p99_ms": percentile(&latencies, 0.99),
            "recall": recall / queries.len() as f64})
    );
}

/// The exact top `k` by cosine (the vectors are unit length, so by dot product).
fn exact_top(data: &[Vec<f32>], query: &[f32], k: usize) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> = data
        .iter()
        .enumerate()
        .map(|(i, v)| (v.iter().zip(query).map(|(a, b)| a * b).sum(), i))
        .collect();
    scored.select_nth_unstable_by(k, |a, b| b.0.total_cmp(&a.0));
    scored.truncate(k);
    scored.into_iter().map(|(_, i)| i).collect()
}

fn fresh_vault(project: &Path) -> (tempfile::TempDir, Atelier) {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = dir.path().join("vault");
    Atelier::init(&vault, &SystemClock, false).expect("init");
    let atelier = Atelier::open(OpenOptions::new(&vault));
    atelier
        .project_add(
            &Principal::Owner,
            ProjectAdd {
                path: project.display().to_string(),
                name: Some("bench".into()),
            },
        )
        .expect("add");
    (dir, atelier)
}

fn bench_ingest(project: &Path) {
    let (_dir, atelier) = fresh_vault(project);
    let started = Instant::now();
    let report = atelier
        .ingest(&Principal::Owner, "bench", &mut |_| {})
        .expect("ingest");
    let seconds = started.elapsed().as_secs_f64();
    let status = atelier.status();
    println!(
        "{}",
        serde_json::json!({"files": report.files, "chunks": status.counts.map(|c| c.chunks), "embedded": report.embedded,
            "seconds": seconds, "timings_ms": report.timings})
    );
}

fn bench_latency(project: &Path) {
    let (_dir, atelier) = fresh_vault(project);
    let atelier = Arc::new(atelier);
    atelier
        .ingest(&Principal::Owner, "bench", &mut |_| {})
        .expect("ingest");
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let atelier = Arc::clone(&atelier);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let options = WatchOptions {
                debounce: Duration::from_millis(200),
                ..WatchOptions::default()
            };
            let _ = atelier.watch(
                &Principal::Owner,
                &["bench".into()],
                options,
                &stop,
                &mut |_| {},
                &mut |_| {},
            );
        })
    };
    // Let the watcher's first catch-up ingest finish.
    std::thread::sleep(Duration::from_secs(2));
    let mut text_ms = Vec::new();
    let mut vector_ms = Vec::new();
    for round in 0..5 {
        let word = format!("zanzibarquill{round}");
        let file: PathBuf = project.join(format!("latency-{round}.md"));
        let started = Instant::now();
        std::fs::write(
            &file,
            format!("# Edit {round}\n\nThe {word} sails past the reef at dawn.\n"),
        )
        .expect("write");
        let mut found_text = None;
        while started.elapsed() < Duration::from_secs(60) {
            let search = |mode| {
                atelier.search(
                    &Principal::Owner,
                    SearchRequest {
                        query: word.clone(),
                        mode,
                        filter: SearchFilter::default(),
                        limit: Some(5),
                        ..Default::default()
                    },
                )
            };
            if found_text.is_none() && search(SearchMode::Text).is_ok_and(|h| !h.is_empty()) {
                found_text = Some(started.elapsed().as_secs_f64() * 1000.0);
            }
            if found_text.is_some()
                && search(SearchMode::Vector).is_ok_and(|h| {
                    h.iter()
                        .any(|h| h.source.path.ends_with(&format!("latency-{round}.md")))
                })
            {
                vector_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        text_ms.extend(found_text);
        let _ = std::fs::remove_file(&file);
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    text_ms.sort_by(f64::total_cmp);
    vector_ms.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({"rounds": 5, "debounce_ms": 200, "text_ms_p50": text_ms.get(text_ms.len() / 2),
            "vector_ms_p50": vector_ms.get(vector_ms.len() / 2), "text_ms": text_ms, "vector_ms": vector_ms})
    );
}

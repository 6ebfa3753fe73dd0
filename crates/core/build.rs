//! Links BLIS statically, in its single-threaded build, for the embedding model's matrix
//! products (ndarray's `blas` feature calls `cblas_sgemm`, which BLIS provides).
//!
//! Why BLIS: the encoder runs one batch per core on rayon, so the library is called from
//! several threads at once, and BLIS is reentrant. Debian's single-threaded OpenBLAS is not:
//! built without `USE_LOCKING`, concurrent calls share its work buffers and return wrong
//! products now and then (measured: 2 runs in 15 of the reference-vector test). A threaded
//! BLAS would only add workers that spin against ours (a third of all cycles in
//! `sched_yield`). Why static: the installed program needs no BLAS package at all. The library
//! comes from Debian's `libblis-serial-dev` (installed by `scripts/install-deps.sh`); set
//! `ATELIER_BLIS_DIR` to use another directory holding `libblis.a`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=ATELIER_BLIS_DIR");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".to_owned());
    let candidates: Vec<PathBuf> = match std::env::var_os("ATELIER_BLIS_DIR") {
        Some(dir) => vec![PathBuf::from(dir)],
        None => vec![
            PathBuf::from(format!("/usr/lib/{arch}-linux-gnu/blis-serial")),
            PathBuf::from("/usr/lib/blis-serial"),
        ],
    };
    let Some(dir) = candidates.iter().find(|d| d.join("libblis.a").is_file()) else {
        let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
        panic!(
            "libblis.a (single-threaded BLIS) not found in {}; run scripts/install-deps.sh or \
             install libblis-serial-dev",
            looked.join(", ")
        );
    };
    println!("cargo:rerun-if-changed={}", dir.join("libblis.a").display());
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=static=blis");
}

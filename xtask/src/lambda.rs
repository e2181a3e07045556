//! cargo-lambda (crates.io), for its Lambda Runtime API emulator: installed once under
//! ~/.cache (it builds in ~10 minutes on 2 cores), never into the clone.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::{cargo, run};

const VERSION: &str = "1.9.2";

pub fn cargo_lambda(cache: &Path) -> Result<PathBuf> {
    let root = cache.join(format!("vitrine-cargo-lambda-{VERSION}"));
    let binary = root.join("bin/cargo-lambda");
    if !binary.exists() {
        let build = std::env::temp_dir().join("vitrine-cargo-lambda-build");
        run(cargo()
            .args([
                "install",
                "cargo-lambda",
                "--locked",
                "--version",
                VERSION,
                "--root",
            ])
            .arg(&root)
            .arg("--target-dir")
            .arg(&build))?;
        let _ = std::fs::remove_dir_all(&build);
    }
    Ok(binary)
}

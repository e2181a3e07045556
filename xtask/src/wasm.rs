//! The wasm32 builds: `vitrine-core` and `vitrine-dynamo` (checked), and the Worker, on
//! Debian's `rustc-web` toolchain (`toolchain.rs`: rustup cannot add targets here).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::{run, toolchain};

/// wasm-bindgen's version in Cargo.lock (the CLI must match it).
const WASM_BINDGEN: &str = "0.2.130";

/// A cargo command on Debian's `rustc-web` toolchain, building for wasm32.
fn cargo_wasm(root: &Path, cache: &Path) -> Result<Command> {
    let mut cmd = toolchain::cargo(root, cache)?;
    // Another rustc: its own target directory, outside the clone.
    cmd.env("CARGO_TARGET_DIR", cache.join("vitrine-wasm-target"))
        .env("RUSTFLAGS", r#"--cfg getrandom_backend="wasm_js""#);
    Ok(cmd)
}

pub fn check(root: &Path, cache: &Path) -> Result<()> {
    run(cargo_wasm(root, cache)?.args([
        "build",
        "--release",
        "-p",
        "vitrine-core",
        "-p",
        "vitrine-dynamo",
        "--lib",
        "--target",
        "wasm32-unknown-unknown",
        "-Zbuild-std=std,panic_abort",
    ]))
    .context("vitrine-core and vitrine-dynamo must build for wasm32-unknown-unknown (the Worker runs them)")?;
    eprintln!("vitrine-core and vitrine-dynamo build for wasm32-unknown-unknown");
    Ok(())
}

/// The wasm-bindgen CLI of the version in Cargo.lock, installed once under `cache`.
fn wasm_bindgen(cache: &Path) -> Result<PathBuf> {
    let root = cache.join(format!("wasm-bindgen-{WASM_BINDGEN}"));
    let bin = root.join("bin/wasm-bindgen");
    if !bin.exists() {
        // Not --locked: a pinned dependency of the CLI is missing from the registry mirror.
        run(Command::new("cargo")
            .args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                WASM_BINDGEN,
                "--root",
            ])
            .arg(&root))?;
    }
    Ok(bin)
}

/// The Worker, ready for `wrangler`: `edge/worker/build/` holds the wasm, its JS glue and
/// the module shim (`edge/worker/shim.mjs`) imports them.
pub fn worker(root: &Path, cache: &Path, features: &[&str]) -> Result<()> {
    run(cargo_wasm(root, cache)?
        .args([
            "rustc",
            "--release",
            "-p",
            "vitrine-edge",
            "--lib",
            "--crate-type",
            "cdylib",
            "--target",
            "wasm32-unknown-unknown",
            "-Zbuild-std=std,panic_abort",
            "--features",
            &features.join(","),
        ])
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"))
    .context("building the Worker")?;
    let wasm = cache.join("vitrine-wasm-target/wasm32-unknown-unknown/release/vitrine_edge.wasm");
    let out = root.join("edge/worker/build");
    run(Command::new(wasm_bindgen(cache)?)
        .args(["--target", "web", "--out-name", "edge"])
        // A panic poisons the instance: the shim resets it (see shim.mjs).
        .args([
            "--experimental-reset-state-function",
            "--force-enable-abort-handler",
        ])
        .arg("--out-dir")
        .arg(&out)
        .arg(&wasm))?;
    let size = std::fs::metadata(out.join("edge_bg.wasm"))?.len();
    eprintln!("Worker built: {} ({size} bytes of wasm)", out.display());
    Ok(())
}

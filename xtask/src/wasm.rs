//! The wasm32 builds: `vitrine-core` and `vitrine-dynamo` (checked), and the Worker. rustup cannot add targets on this
//! machine, so this uses Debian's `rustc-web` toolchain unpacked under ~/.cache (not
//! installed: the machine's default toolchain stays as it is) with -Zbuild-std.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::run;

/// wasm-bindgen's version in Cargo.lock (the CLI must match it).
const WASM_BINDGEN: &str = "0.2.130";

const PACKAGES: &[&str] = &[
    "rustc-web",
    "libstd-rust-web-1.96",
    "libstd-rust-web-dev",
    "libllvm22",
    "rust-web-llvm",
    "lld-22",
    "liblld-22",
    "rust-web-src",
];

/// Debian's wasm32 toolchain, unpacked once under `cache`; a cargo command that uses it.
fn cargo_wasm(root: &Path, cache: &Path) -> Result<Command> {
    let base = cache.join("vitrine-wasm-toolchain");
    let prefix = base.join("prefix");
    let rustc = prefix.join("usr/bin/rustc");
    if !rustc.exists() {
        let debs = base.join("debs");
        std::fs::create_dir_all(&debs)?;
        run(Command::new("apt-get")
            .arg("download")
            .args(PACKAGES)
            .current_dir(&debs))?;
        for deb in std::fs::read_dir(&debs)? {
            let deb = deb?.path();
            run(Command::new("dpkg").arg("-x").arg(&deb).arg(&prefix))?;
        }
    }
    let path = format!(
        "{}:{}:{}",
        prefix.join("usr/bin").display(),
        prefix.join("usr/lib/llvm-22/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("cargo");
    cmd.env("PATH", path)
        .env("LD_LIBRARY_PATH", prefix.join("usr/lib/x86_64-linux-gnu"))
        .env("RUSTC", &rustc)
        .env("RUSTC_BOOTSTRAP", "1")
        // Another rustc: its own target directory, outside the clone.
        .env("CARGO_TARGET_DIR", cache.join("vitrine-wasm-target"))
        .env("RUSTFLAGS", r#"--cfg getrandom_backend="wasm_js""#)
        .current_dir(root);
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

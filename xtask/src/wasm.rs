//! Builds `vitrine-core` and `vitrine-dynamo` for wasm32-unknown-unknown. rustup cannot add targets on this
//! machine, so this uses Debian's `rustc-web` toolchain unpacked under ~/.cache (not
//! installed: the machine's default toolchain stays as it is) with -Zbuild-std.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::run;

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

pub fn check(root: &Path, cache: &Path) -> Result<()> {
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
    run(Command::new("cargo")
        .args([
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
        ])
        .env("PATH", path)
        .env("LD_LIBRARY_PATH", prefix.join("usr/lib/x86_64-linux-gnu"))
        .env("RUSTC", &rustc)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", cache.join("vitrine-wasm-target"))
        .env_remove("RUSTFLAGS")
        .current_dir(root))
    .context("vitrine-core and vitrine-dynamo must build for wasm32-unknown-unknown (the Worker runs them)")?;
    eprintln!("vitrine-core and vitrine-dynamo build for wasm32-unknown-unknown");
    Ok(())
}

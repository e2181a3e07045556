//! The second Rust toolchain: Debian's `rustc-web`, unpacked once under ~/.cache (not
//! installed: the machine's default toolchain stays as it is). rustup cannot add targets
//! on this machine; with `-Zbuild-std` this one builds the standard library for any
//! target its LLVM knows — wasm32 for the Worker, aarch64 for the arm64 packages.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

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

/// A cargo command that compiles with that toolchain (`RUSTC_BOOTSTRAP` for
/// `-Zbuild-std`). The caller names the target and its own target directory.
pub fn cargo(root: &Path, cache: &Path) -> Result<Command> {
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
        .current_dir(root);
    Ok(cmd)
}

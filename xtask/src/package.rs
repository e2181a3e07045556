//! `cargo xtask package`: what the deploy uploads, in `target/package/`.
//!
//! - `vitrine-api-lambda-<arch>.zip`: the API's `bootstrap` for Lambda's `provided.al2023`
//! - `vitrine-media-node-<arch>.tar.gz`: the media node's binary with its systemd unit,
//!   nginx site and `install.sh` (`infra/media-node/`)
//!
//! Built for this machine's architecture with its glibc; every versioned glibc symbol the
//! binaries need is checked against Amazon Linux 2023's glibc (2.34), so a binary that
//! would fail to start in Lambda or on the VM fails here instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cargo, root, run, target_dir};

/// Amazon Linux 2023's glibc (Lambda's provided.al2023 and the media node's image).
const RUNTIME_GLIBC: (u32, u32) = (2, 34);

pub fn package() -> Result<()> {
    let root = root();
    run(cargo()
        .args(["build", "--release", "--locked"])
        .args(["-p", "vitrine-lambdas", "--bin", "vitrine-api-lambda"])
        .args(["-p", "vitrine-media-node", "--bin", "vitrine-media-node"])
        .current_dir(&root))?;
    let release = target_dir().join("release");
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "arm64",
        other => bail!("no Lambda architecture for {other}"),
    };
    let out = target_dir().join("package");
    std::fs::create_dir_all(&out)?;
    let mut report = Vec::new();

    for binary in ["vitrine-api-lambda", "vitrine-media-node"] {
        let needed = glibc_needed(&release.join(binary))?;
        if needed > RUNTIME_GLIBC {
            bail!(
                "{binary} needs glibc {}.{}, Amazon Linux 2023 has {}.{}",
                needed.0,
                needed.1,
                RUNTIME_GLIBC.0,
                RUNTIME_GLIBC.1
            );
        }
        report.push(format!("{binary}: needs glibc ≤ {}.{}", needed.0, needed.1));
    }

    // The API: one file named bootstrap, executable, at the zip's root.
    let staging = stage(
        &out.join(format!("api-{arch}")),
        &release.join("vitrine-api-lambda"),
        "bootstrap",
    )?;
    let api_zip = out.join(format!("vitrine-api-lambda-{arch}.zip"));
    let _ = std::fs::remove_file(&api_zip);
    run(Command::new("python3")
        .args(["-m", "zipfile", "-c"])
        .arg(&api_zip)
        .arg("bootstrap")
        .current_dir(&staging))?;

    // The media node: binary + what installs and runs it.
    let staging = stage(
        &out.join(format!("media-node-{arch}")),
        &release.join("vitrine-media-node"),
        "vitrine-media-node",
    )?;
    for file in ["install.sh", "vitrine-media-node.service", "nginx.conf"] {
        std::fs::copy(root.join("infra/media-node").join(file), staging.join(file))?;
    }
    let media_node = out.join(format!("vitrine-media-node-{arch}.tar.gz"));
    run(Command::new("tar")
        .arg("czf")
        .arg(&media_node)
        .args(["-C"])
        .arg(&staging)
        .arg("."))?;

    for path in [&api_zip, &media_node] {
        report.push(format!(
            "{}: {:.1} MiB",
            path.display(),
            std::fs::metadata(path)?.len() as f64 / (1024.0 * 1024.0)
        ));
    }
    for line in &report {
        eprintln!("{line}");
    }
    eprintln!(
        "arm64: build on an arm64 machine with the same command (this one has no aarch64 standard library)"
    );
    Ok(())
}

/// A fresh directory `dir` holding `binary`, stripped, as `name`.
fn stage(dir: &Path, binary: &Path, name: &str) -> Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    std::fs::copy(binary, dir.join(name))?;
    strip(&dir.join(name))?;
    Ok(dir.to_path_buf())
}

/// Symbols are not needed to run (panics still name their location); ~40 % of the size.
fn strip(binary: &Path) -> Result<()> {
    run(Command::new("strip").arg("--strip-all").arg(binary))
}

/// The highest `GLIBC_x.y` version among the binary's dynamic symbols (`objdump -T`).
fn glibc_needed(binary: &Path) -> Result<(u32, u32)> {
    let output = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .context("running objdump (binutils)")?;
    if !output.status.success() {
        bail!("objdump -T {} failed", binary.display());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let versions: Vec<(u32, u32)> = text
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            Some((major, minor))
        })
        .collect();
    match versions.into_iter().max() {
        Some(max) => Ok(max),
        None => bail!(
            "{} has no versioned glibc symbols: not a dynamic glibc binary?",
            binary.display()
        ),
    }
}

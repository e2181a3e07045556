//! PyPI tools the tests need (moto, aiosmtpd, cfn-lint, checkov), each pinned and installed
//! once into its own virtualenv under ~/.cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::run;

/// The `bin/` of the virtualenv `cache/name` holding `packages`, made unless `probe`
/// (a command of the last package) is there already.
pub fn tools(cache: &Path, name: &str, packages: &[&str], probe: &str) -> Result<PathBuf> {
    let venv = cache.join(name);
    if !venv.join("bin").join(probe).exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(packages))?;
    }
    Ok(venv.join("bin"))
}

/// An unmodified WebRTC client from outside (V1–V5 interop): aiortc and a WebSocket
/// client, for `tests/interop/aiortc_client.py`; returns the virtualenv's python.
pub fn aiortc(cache: &Path) -> Result<PathBuf> {
    let bin = tools(
        cache,
        "vitrine-aiortc-1.16.0",
        &["aiortc==1.16.0", "websockets==15.0.1"],
        "websockets",
    )?;
    Ok(bin.join("python"))
}

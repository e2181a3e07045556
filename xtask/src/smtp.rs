//! A real SMTP server for the e-mail tests (K3): aiosmtpd (PyPI), installed once into a
//! virtualenv under ~/.cache. Tests start their own, each with its own maildir, from the
//! path this returns (VITRINE_AIOSMTPD).

use std::path::{Path, PathBuf};

use anyhow::Result;

/// Installs aiosmtpd if needed; returns its command.
pub fn aiosmtpd(cache: &Path) -> Result<PathBuf> {
    let bin = crate::venv::tools(
        cache,
        "vitrine-aiosmtpd-1.4.6",
        &["aiosmtpd==1.4.6"],
        "aiosmtpd",
    )?;
    Ok(bin.join("aiosmtpd"))
}

//! The infrastructure checked offline: cfn-lint and checkov (PyPI, pinned, in a virtualenv
//! under ~/.cache) on the AWS template, and `wrangler deploy --dry-run` on the Worker as
//! it would be deployed. The template's table and IAM are also checked by
//! `tests/tests/infra.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::{edge, run};

const TOOLS: &[&str] = &["cfn-lint==1.58.0", "checkov==3.3.30"];
pub const TEMPLATE: &str = "infra/aws/template.yaml";

/// The virtualenv holding [`TOOLS`], made once.
fn tools(cache: &Path) -> Result<PathBuf> {
    crate::venv::tools(
        cache,
        "vitrine-iac-cfnlint1.58.0-checkov3.3.30",
        TOOLS,
        "checkov",
    )
}

pub fn check(root: &Path, cache: &Path) -> Result<()> {
    let bin = tools(cache)?;
    run(Command::new(bin.join("cfn-lint"))
        .arg(TEMPLATE)
        .current_dir(root))?;
    // --skip-download: no policy metadata from the vendor's API (offline); every
    // suppression is in the template with its reason.
    run(Command::new(bin.join("checkov"))
        .args(["--file", TEMPLATE, "--framework", "cloudformation"])
        .args(["--compact", "--quiet", "--skip-download"])
        .current_dir(root))?;
    // The Worker as deployed (without the test build's routes), with the pinned wrangler
    // installed first (a fresh clone has none).
    edge::prepare(root, cache, edge::Build::Deploy)?;
    let worker = root.join("edge/worker");
    let out = std::env::temp_dir().join(format!("vitrine-wrangler-{}", std::process::id()));
    let dry_run = run(Command::new(worker.join("node_modules/.bin/wrangler"))
        .args(["deploy", "--dry-run", "--outdir"])
        .arg(&out)
        .current_dir(&worker));
    let _ = std::fs::remove_dir_all(&out);
    dry_run
}

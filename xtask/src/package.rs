//! `cargo xtask package`: what the deploy uploads, in `target/package/`, for both of
//! Lambda's architectures:
//!
//! - `vitrine-api-lambda-<arch>.zip`: the API's `bootstrap` for Lambda's `provided.al2023`
//! - `vitrine-media-node-<arch>.tar.gz`: the media node's binary with its systemd unit,
//!   nginx site and `install.sh` (`infra/media-node/`)
//!
//! x86_64 with the machine's toolchain; arm64 cross-compiled with Debian's `rustc-web`
//! (`toolchain.rs`, `-Zbuild-std`) and `gcc-aarch64-linux-gnu` as the linker. Every
//! versioned glibc symbol the binaries need is checked against Amazon Linux 2023's glibc
//! (2.34), so a binary that would fail to start in Lambda or on the VM fails here instead.
//! `cargo xtask test` then runs what was packed (`run_packages`): arm64 under qemu-user.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::children::{free_port, wait_for_port, Children};
use crate::{cache_dir, cargo, root, run, target_dir, toolchain};

/// Amazon Linux 2023's glibc (Lambda's provided.al2023 and the media node's image).
const RUNTIME_GLIBC: (u32, u32) = (2, 34);

const BINARIES: [&str; 2] = ["vitrine-api-lambda", "vitrine-media-node"];

/// One of Lambda's (and EC2's) architectures, as this x86_64 machine builds and runs it.
#[derive(Clone, Copy)]
pub struct Arch {
    /// Lambda's and the template's name for it.
    pub name: &'static str,
    /// `None`: the machine's own.
    triple: Option<&'static str>,
    strip: &'static str,
    /// What runs its binaries here (empty: they run natively).
    pub runner: &'static [&'static str],
}

pub const ARCHES: [Arch; 2] = [
    Arch {
        name: "x86_64",
        triple: None,
        strip: "strip",
        runner: &[],
    },
    Arch {
        name: "arm64",
        triple: Some("aarch64-unknown-linux-gnu"),
        strip: "aarch64-linux-gnu-strip",
        runner: &["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"],
    },
];

/// What `package` made for one architecture.
pub struct Package {
    pub arch: Arch,
    pub api_zip: PathBuf,
    pub media_node: PathBuf,
}

pub fn package() -> Result<Vec<Package>> {
    ensure!(
        std::env::consts::ARCH == "x86_64",
        "packages are built on x86_64 (arm64 is cross-compiled from there)"
    );
    let out = target_dir().join("package");
    std::fs::create_dir_all(&out)?;
    let mut packages = Vec::new();
    let mut report = Vec::new();
    for arch in ARCHES {
        let release = build(arch)?;
        for binary in BINARIES {
            let needed = glibc_needed(&release.join(binary))?;
            if needed > RUNTIME_GLIBC {
                bail!(
                    "{binary} ({}) needs glibc {}.{}, Amazon Linux 2023 has {}.{}",
                    arch.name,
                    needed.0,
                    needed.1,
                    RUNTIME_GLIBC.0,
                    RUNTIME_GLIBC.1
                );
            }
            report.push(format!(
                "{binary} ({}): needs glibc ≤ {}.{}",
                arch.name, needed.0, needed.1
            ));
        }
        let package = pack(arch, &release, &out)?;
        for path in [&package.api_zip, &package.media_node] {
            report.push(format!(
                "{}: {:.1} MiB",
                path.display(),
                std::fs::metadata(path)?.len() as f64 / (1024.0 * 1024.0)
            ));
        }
        packages.push(package);
    }
    for line in &report {
        eprintln!("{line}");
    }
    Ok(packages)
}

/// Release builds of both binaries; the directory holding them.
fn build(arch: Arch) -> Result<PathBuf> {
    let root = root();
    let mut cmd = match arch.triple {
        None => cargo(),
        Some(_) => {
            ensure!(
                which("aarch64-linux-gnu-gcc"),
                "the arm64 packages link with aarch64-linux-gnu-gcc: apt-get install gcc-aarch64-linux-gnu"
            );
            let mut cmd = toolchain::cargo(&root, &cache_dir())?;
            cmd.env("CARGO_TARGET_DIR", cache_dir().join("vitrine-arm64-target"))
                .env(
                    "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
                    "aarch64-linux-gnu-gcc",
                );
            cmd
        }
    };
    cmd.args(["build", "--release", "--locked"]);
    for binary in BINARIES {
        let package = match binary {
            "vitrine-api-lambda" => "vitrine-lambdas",
            _ => "vitrine-media-node",
        };
        cmd.args(["-p", package, "--bin", binary]);
    }
    if let Some(triple) = arch.triple {
        cmd.args(["--target", triple, "-Zbuild-std=std,panic_abort"]);
    }
    run(cmd.current_dir(&root))?;
    Ok(match arch.triple {
        None => target_dir().join("release"),
        Some(triple) => cache_dir()
            .join("vitrine-arm64-target")
            .join(triple)
            .join("release"),
    })
}

/// The zip and the tarball for `arch` from the binaries in `release`.
fn pack(arch: Arch, release: &Path, out: &Path) -> Result<Package> {
    let root = root();
    // The API: one executable file named bootstrap at the zip's root.
    let staging = stage(
        &out.join(format!("api-{}", arch.name)),
        &release.join("vitrine-api-lambda"),
        "bootstrap",
        arch,
    )?;
    let api_zip = out.join(format!("vitrine-api-lambda-{}.zip", arch.name));
    let mut zip = zip::ZipWriter::new(File::create(&api_zip)?);
    zip.start_file(
        "bootstrap",
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o755),
    )?;
    zip.write_all(&std::fs::read(staging.join("bootstrap"))?)?;
    zip.finish()?;

    // The media node: binary + what installs and runs it.
    let staging = stage(
        &out.join(format!("media-node-{}", arch.name)),
        &release.join("vitrine-media-node"),
        "vitrine-media-node",
        arch,
    )?;
    for file in ["install.sh", "vitrine-media-node.service", "nginx.conf"] {
        std::fs::copy(root.join("infra/media-node").join(file), staging.join(file))?;
    }
    let media_node = out.join(format!("vitrine-media-node-{}.tar.gz", arch.name));
    run(Command::new("tar")
        .arg("czf")
        .arg(&media_node)
        .args(["-C"])
        .arg(&staging)
        .arg("."))?;
    Ok(Package {
        arch,
        api_zip,
        media_node,
    })
}

/// A fresh directory `dir` holding `binary`, stripped, as `name`.
fn stage(dir: &Path, binary: &Path, name: &str, arch: Arch) -> Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    std::fs::copy(binary, dir.join(name))?;
    // Symbols are not needed to run (panics still name their location); ~40 % of the size.
    run(Command::new(arch.strip)
        .arg("--strip-all")
        .arg(dir.join(name)))?;
    Ok(dir.to_path_buf())
}

/// Runs what was packed, as the cloud would: each zip's `bootstrap` under the Runtime API
/// emulator through the Lambda runtime test (DynamoDB Local, S3-compatible server), and
/// each tarball's media node until `/health` answers and a SIGTERM stops it.
pub fn run_packages(packages: &[Package], env: &[(&str, &std::ffi::OsStr)]) -> Result<()> {
    for package in packages {
        let dir = target_dir().join("package/run").join(package.arch.name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let bootstrap = unzip_bootstrap(&package.api_zip, &dir)?;
        // --workspace: the features of the main test run, so nothing is built again.
        run(cargo()
            .args(["test", "--workspace", "--test", "runtime"])
            .env("VITRINE_LAMBDA_BOOTSTRAP", &bootstrap)
            .env("VITRINE_LAMBDA_RUNNER", package.arch.runner.join(" "))
            .envs(env.iter().copied())
            .current_dir(root()))
        .with_context(|| format!("the {} Lambda package", package.arch.name))?;

        run(Command::new("tar")
            .arg("xzf")
            .arg(&package.media_node)
            .arg("-C")
            .arg(&dir))?;
        media_node_health(&dir.join("vitrine-media-node"), package.arch)
            .with_context(|| format!("the {} media node package", package.arch.name))?;
        eprintln!(
            "{}: the packed Lambda and media node run",
            package.arch.name
        );
    }
    Ok(())
}

/// The zip holds exactly one file, `bootstrap`, executable (Lambda runs it as is); it is
/// written to `dir` with its mode.
fn unzip_bootstrap(zip_path: &Path, dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let mut archive = zip::ZipArchive::new(File::open(zip_path)?)?;
    ensure!(
        archive.len() == 1,
        "{} holds {} files",
        zip_path.display(),
        archive.len()
    );
    let mut entry = archive.by_index(0)?;
    let name = entry.name()?.into_owned();
    ensure!(name == "bootstrap", "the zip holds {name}, not bootstrap");
    let mode = entry.unix_mode().context("bootstrap has no Unix mode")?;
    ensure!(
        mode & 0o111 == 0o111,
        "bootstrap is not executable: {mode:o}"
    );
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes)?;
    let path = dir.join("bootstrap");
    std::fs::write(&path, bytes)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777))?;
    Ok(path)
}

/// Starts the media node, waits for `GET /health` → 200, then stops it with SIGTERM (what
/// systemd sends) and expects it to exit by itself.
fn media_node_health(binary: &Path, arch: Arch) -> Result<()> {
    let (http, udp) = (free_port()?, free_port()?);
    let mut cmd = match arch.runner {
        [runner, args @ ..] => {
            let mut cmd = Command::new(runner);
            cmd.args(args).arg(binary);
            cmd
        }
        [] => Command::new(binary),
    };
    cmd.args(["--http", &format!("127.0.0.1:{http}")])
        .args(["--udp", &format!("127.0.0.1:{udp}")])
        .args(["--key", "a-packaging-test-key"])
        .args(["--drain-seconds", "5"]);
    let mut children = Children::default();
    let pid = children.spawn(&mut cmd)?;
    wait_for_port(http)?;
    let response = http_get(http, "/health")?;
    ensure!(
        response.starts_with("HTTP/1.1 200"),
        "GET /health: {}",
        response.lines().next().unwrap_or("")
    );
    run(Command::new("kill").arg(pid.to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if children.exited(pid)? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the media node did not exit within 20 s of SIGTERM")
}

fn http_get(port: u16, path: &str) -> Result<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
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

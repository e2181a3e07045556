//! `cargo xtask <command>`: the project's scripts, in Rust so they run the same everywhere.
//!
//! - `dev [--edge]` build the web assets and run the whole product locally (embedded
//!   store); `--edge`: on the edge stack (Worker in workerd, DynamoDB Local)
//! - `test`        every test: Rust (incl. the DynamoDB contract run), wasm32 build of core,
//!   web type-check and size budget, browser end-to-end in Chromium
//! - `web`         install npm packages (once) and bundle the widget and portal
//! - `gen-types`   regenerate web/shared/protocol.ts from the Rust wire types
//! - `wasm-check`  build `vitrine-core` and `vitrine-dynamo` for wasm32-unknown-unknown
//! - `worker`      build the Cloudflare Worker (edge/worker/build) for wrangler
//! - `test-edge`   only the protocol suites against the Worker in workerd
//! - `e2e [--repeat N]` the browser end-to-end tests alone, N times in a row (stops at
//!   the first failing run)
//! - `bench presence|chat|media …`   the benchmarks (BENCHMARKS.md)
//! - `package`     the API's Lambda zip and the media node's tarball, x86_64 and arm64
//!   (target/package)
//! - `deploy [--dry-run] …` package, `sam deploy`, the Worker's secrets, `wrangler deploy`

mod children;
mod ddb;
mod deploy;
mod edge;
mod iac;
mod lambda;
mod moto;
mod package;
mod smtp;
mod toolchain;
mod venv;
mod wasm;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use children::Children;

fn root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR at run time too. Prefer it: a binary cached in
    // a target dir shared between clones keeps the path of the clone that built it.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache")
}

/// Runs a command to completion, failing with its name if it fails.
fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or(&[]).to_vec();
    match args.first().map(String::as_str) {
        Some("dev") => dev(&rest),
        Some("test") => test(),
        Some("e2e") => e2e(&rest),
        Some("web") => web(),
        Some("gen-types") => gen_types(),
        Some("wasm-check") => wasm::check(&root(), &cache_dir()),
        Some("worker") => wasm::worker(&root(), &cache_dir(), &[]),
        Some("test-edge") => test_edge(),
        Some("bench") => bench(&rest),
        Some("package") => package::package().map(drop),
        Some("deploy") => deploy::deploy(&rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <dev|test|e2e|web|gen-types|wasm-check|worker|test-edge|bench|package|deploy>"
            );
            std::process::exit(2);
        }
    }
}

fn gen_types() -> Result<()> {
    let path = root().join(vitrine_core::typescript::GENERATED_PATH);
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    std::fs::write(&path, vitrine_core::typescript::generate())?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// `npm ci` when node_modules is missing or older than the lock file, then the bundle.
fn web() -> Result<()> {
    let web = root().join("web");
    let stamp = web.join("node_modules/.package-lock.json");
    let lock = web.join("package-lock.json");
    let stale = match (std::fs::metadata(&stamp), std::fs::metadata(&lock)) {
        (Ok(s), Ok(l)) => s.modified()? < l.modified()?,
        _ => true,
    };
    if stale {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&web))?;
    }
    run(Command::new("node").arg("build.mjs").current_dir(&web))
}

fn dev(extra: &[String]) -> Result<()> {
    if extra.first().is_some_and(|a| a == "--edge") {
        return dev_edge(&extra[1..]);
    }
    web()?;
    run(cargo()
        .args(["build", "-p", "vitrine-server"])
        .current_dir(root()))?;
    let bin = target_dir().join("debug/vitrine");
    let status = with_web_dirs(&mut Command::new(bin))
        .args(extra)
        .current_dir(root())
        .status()?;
    if !status.success() {
        bail!("vitrine exited with {status}");
    }
    Ok(())
}

/// `cargo xtask dev --edge`: the product on the edge stack, locally. The Worker in
/// workerd is the front door (portal and widget files, every socket, `/api` carried to
/// the API); its Durable Objects and the API share one DynamoDB Local table; the local
/// server is the API and the media node.
fn dev_edge(extra: &[String]) -> Result<()> {
    web()?;
    run(cargo()
        .args(["build", "-p", "vitrine-server"])
        .current_dir(root()))?;
    let mut children = Children::default();
    let endpoint = ddb::start(&cache_dir(), &mut children)?;
    let api_port = children::free_port()?;
    let worker_port = children::free_port()?;
    let worker_url = format!("http://127.0.0.1:{worker_port}");
    let visitor_key = format!("dev-{}", std::process::id());
    let call_key = format!("dev-call-{}", std::process::id());
    let operator = format!("dev-operator-{}", std::process::id());
    let changes_key = format!("dev-changes-{}", std::process::id());
    children.spawn(
        with_web_dirs(&mut Command::new(target_dir().join("debug/vitrine")))
            .args(["--store", "dynamodb", "--dynamodb-endpoint", &endpoint])
            .args(["--bind", &format!("127.0.0.1:{api_port}")])
            .args(["--public-url", &worker_url])
            .env("VITRINE_VISITOR_KEY", &visitor_key)
            .env("VITRINE_CALL_KEY", &call_key)
            .env("VITRINE_EDGE_ORIGIN", &worker_url)
            .env("VITRINE_CHANGES_KEY", &changes_key)
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", "us-east-1")
            .args(extra)
            .current_dir(root()),
    )?;
    children::wait_for_port(api_port)?;
    edge::start_on(
        &root(),
        &cache_dir(),
        edge::Build::Deploy,
        false,
        &mut children,
        worker_port,
        &[
            ("VITRINE_DYNAMODB_ENDPOINT", endpoint.as_str()),
            (
                "VITRINE_API_ORIGIN",
                &format!("http://127.0.0.1:{api_port}"),
            ),
            ("VITRINE_VISITOR_KEY", &visitor_key),
            ("VITRINE_CALL_KEY", &call_key),
            ("VITRINE_OPERATOR_TOKEN", &operator),
            ("VITRINE_CHANGES_KEY", &changes_key),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
        ],
    )?;
    eprintln!(
        "\n  Vitrine on the edge stack: Worker {worker_url} (portal: {worker_url}/portal/), \
         API 127.0.0.1:{api_port}, DynamoDB Local {endpoint}\n  \
         Operator token for {worker_url}/internal/stats?site=…: {operator}\n  Ctrl-C stops everything.\n"
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// The server's built-in default for its static files is the path of the clone that
/// compiled it, which a shared target dir can make another clone's; name this clone's.
fn with_web_dirs(command: &mut Command) -> &mut Command {
    let root = root();
    command
        .env("VITRINE_WEB_DIR", root.join("web/dist"))
        .env("VITRINE_DEMO_DIR", root.join("web/demo"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The integration suites that run against the Worker as well as the local server.
/// `store_in_workerd` runs only there (its cases are ignored by a plain `cargo test`).
const EDGE_SUITES: &[&str] = &[
    "live_list",
    "chat",
    "revoke",
    "assets",
    "outage",
    "store_in_workerd",
];

/// Each step's name and how long it took, printed when `cargo xtask test` ends (pass or
/// fail), so the budget of a run is read in its own log.
#[derive(Default)]
struct Steps(
    Vec<(&'static str, std::time::Duration)>,
    Option<std::time::Instant>,
);

impl Steps {
    /// Ends the step running now (if any) and starts `name`.
    fn next(&mut self, name: &'static str) {
        self.end();
        self.0.push((name, std::time::Duration::ZERO));
        self.1 = Some(std::time::Instant::now());
    }

    fn end(&mut self) {
        if let (Some(start), Some(last)) = (self.1.take(), self.0.last_mut()) {
            last.1 = start.elapsed();
        }
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        self.end();
        let total: std::time::Duration = self.0.iter().map(|(_, d)| *d).sum();
        eprintln!("\nstep times:");
        for (name, took) in &self.0 {
            eprintln!("  {:>6.1} min  {name}", took.as_secs_f64() / 60.0);
        }
        eprintln!("  {:>6.1} min  total", total.as_secs_f64() / 60.0);
    }
}

fn test() -> Result<()> {
    let root = root();
    let mut steps = Steps::default();
    // 1. Front ends: generated types current, bundle, type-check.
    steps.next("front ends: bundle, type-check, widget budget");
    web()?;
    run(Command::new("npx")
        .args(["tsc", "--noEmit", "-p", "tsconfig.json"])
        .current_dir(root.join("web")))?;
    check_widget_size(&root)?;

    // 2. Rust tests, with a real DynamoDB-compatible server for the store contract and a
    //    real S3-compatible server for the blob store's.
    steps.next("Rust tests (workspace, DynamoDB Local, moto, SMTP)");
    let mut children = Children::default();
    let endpoint = ddb::start(&cache_dir(), &mut children)?;
    let s3 = moto::start(&cache_dir(), &mut children)?;
    let cargo_lambda = lambda::cargo_lambda(&cache_dir())?;
    run(cargo()
        .args(["test", "--workspace", "--all-targets"])
        .env("VITRINE_DYNAMODB_ENDPOINT", &endpoint)
        .env("VITRINE_S3_ENDPOINT", &s3)
        .env("VITRINE_CARGO_LAMBDA", &cargo_lambda)
        .env("VITRINE_AIOSMTPD", smtp::aiosmtpd(&cache_dir())?)
        .current_dir(&root))?;

    // 3. The infrastructure, offline: template lint and security scan, the Worker's
    //    deploy dry run, the packages for x86_64 and arm64 (their glibc checked against
    //    Amazon Linux 2023), then what was packed, run: each bootstrap under the Runtime
    //    API emulator, each media node to /health (arm64 under qemu-user).
    steps.next("infrastructure checks");
    iac::check(&root, &cache_dir())?;
    steps.next("packages (x86_64, arm64) built and run");
    let packages = package::package()?;
    package::run_packages(
        &packages,
        &[
            ("VITRINE_DYNAMODB_ENDPOINT", endpoint.as_ref()),
            ("VITRINE_S3_ENDPOINT", s3.as_ref()),
            ("VITRINE_CARGO_LAMBDA", cargo_lambda.as_os_str()),
        ],
    )?;

    // 4. The same protocol suites against the edge.
    steps.next("Worker for wasm32 and the suites in workerd");
    wasm::check(&root, &cache_dir())?;
    edge_suites(&mut children, &endpoint, &s3)?;

    // 5. Browser end-to-end in Chromium against the real binaries, then the presence and
    //    chat ones against the Worker (each test its own Worker and table), then the
    //    chat one with the portal's API on Lambda (under the Runtime API emulator).
    steps.next("browser tests on the server");
    build_bins()?;
    browser_tests(None)?;
    steps.next("browser tests on the Worker");
    browser_tests(Some(&endpoint))?;
    steps.next("browser tests with the API on Lambda");
    browser_tests_on_lambda(&endpoint, &s3, &cargo_lambda)?;
    children.stop_all();
    eprintln!("all tests passed");
    Ok(())
}

/// The protocol suites against the Worker in workerd, its Durable Objects on DynamoDB
/// Local (the API: the local server on the same table).
fn edge_suites(children: &mut Children, endpoint: &str, s3: &str) -> Result<()> {
    let worker = edge::start(
        &root(),
        &cache_dir(),
        edge::Build::Test,
        children,
        &[
            ("VITRINE_DYNAMODB_ENDPOINT", endpoint),
            ("VITRINE_VISITOR_KEY", edge::TEST_VISITOR_KEY),
            ("VITRINE_OPERATOR_TOKEN", edge::OPERATOR_TOKEN),
            ("VITRINE_CHANGES_KEY", edge::CHANGES_KEY),
            ("VITRINE_OFFLINE_GRACE_MS", edge::TEST_OFFLINE_GRACE_MS),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
        ],
    )?;
    run(cargo()
        .args(["test", "-p", "vitrine-tests"])
        .args(EDGE_SUITES.iter().flat_map(|t| ["--test", t]))
        .args(["--", "--include-ignored"])
        .env("VITRINE_DYNAMODB_ENDPOINT", endpoint)
        .env("VITRINE_S3_ENDPOINT", s3)
        .env("VITRINE_EDGE_URL", &worker.url)
        .env("VITRINE_EDGE_OPERATOR_TOKEN", edge::OPERATOR_TOKEN)
        .env("VITRINE_EDGE_CHANGES_KEY", edge::CHANGES_KEY)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_REGION", "us-east-1")
        .current_dir(root()))
}

/// `cargo xtask test-edge`: only the suites against the Worker.
fn test_edge() -> Result<()> {
    let mut children = Children::default();
    let endpoint = ddb::start(&cache_dir(), &mut children)?;
    let s3 = moto::start(&cache_dir(), &mut children)?;
    edge_suites(&mut children, &endpoint, &s3)
}

/// `cargo test` only builds a package's binaries when that package has integration tests,
/// so build them all explicitly (workspace-wide, to keep the feature set of `cargo test`).
fn build_bins() -> Result<()> {
    run(cargo()
        .args(["build", "--workspace", "--bins"])
        .current_dir(root()))
}

/// The browser tests that also run against the Worker.
const EDGE_E2E: &[&str] = &[
    "tests/e2e/presence.test.mjs",
    "tests/e2e/chat.test.mjs",
    "tests/e2e/languages.test.mjs",
    "tests/e2e/contacts.test.mjs",
    "tests/e2e/cobrowse.test.mjs",
];

/// The browser end-to-end suite, once (`tests/e2e/*.test.mjs`, one file at a time); with
/// a DynamoDB endpoint, [`EDGE_E2E`] against the Worker (built first).
fn browser_tests(edge_dynamodb: Option<&str>) -> Result<()> {
    let tests: &[&str] = match edge_dynamodb {
        Some(_) => EDGE_E2E,
        None => &["tests/e2e/"],
    };
    browser_tests_with(edge_dynamodb, tests, &[])
}

/// The chat browser test with the portal's API as `vitrine-api-lambda` under cargo-lambda's
/// Runtime API emulator (blobs on the S3-compatible server), the hub in workerd.
fn browser_tests_on_lambda(dynamodb: &str, s3: &str, cargo_lambda: &Path) -> Result<()> {
    let bin = target_dir().join("debug/vitrine-api-lambda");
    browser_tests_with(
        Some(dynamodb),
        &["tests/e2e/chat.test.mjs"],
        &[
            ("VITRINE_E2E_CARGO_LAMBDA", cargo_lambda.as_os_str()),
            ("VITRINE_E2E_API_LAMBDA", bin.as_os_str()),
            ("VITRINE_E2E_S3", std::ffi::OsStr::new(s3)),
        ],
    )
}

/// Runs these browser test files (on the edge stack with a DynamoDB endpoint).
fn browser_tests_with(
    edge_dynamodb: Option<&str>,
    tests: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> Result<()> {
    let mut node = Command::new("node");
    node.args(["--test", "--test-concurrency=1"]);
    node.args(tests);
    if let Some(endpoint) = edge_dynamodb {
        edge::prepare(&root(), &cache_dir(), edge::Build::Test)?;
        node.env("VITRINE_E2E_EDGE_DYNAMODB", endpoint);
    }
    node.envs(env.iter().copied());
    run(with_web_dirs(&mut node)
        .env("VITRINE_BIN", target_dir().join("debug/vitrine"))
        .env(
            "VITRINE_MEDIA_BIN",
            target_dir().join("debug/vitrine-media-node"),
        )
        .env(
            "VITRINE_MEDIALOAD_BIN",
            target_dir().join("debug/vitrine-mediaload"),
        )
        .env("VITRINE_AIOSMTPD", smtp::aiosmtpd(&cache_dir())?)
        .env("VITRINE_AIORTC_PYTHON", venv::aiortc(&cache_dir())?)
        .current_dir(root()))
}

/// `cargo xtask e2e [--repeat N] [--only FILE] [--grep NAME]`: the browser suite N times in a row, to show it is not
/// flaky (run it beside `stress-ng --cpu 1` for a busy machine).
fn e2e(args: &[String]) -> Result<()> {
    let (edge, args) = match args {
        [flag, rest @ ..] if flag == "--edge" => (true, rest),
        _ => (false, args),
    };
    const USAGE: &str =
        "usage: cargo xtask e2e [--edge] [--repeat N] [--only FILE.test.mjs] [--grep TEST-NAME-PATTERN]";
    let (mut repeat, mut only, mut grep) = (1u32, None::<String>, None::<String>);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        match (flag.as_str(), rest.next()) {
            ("--repeat", Some(n)) => repeat = n.parse().context("--repeat takes a number")?,
            ("--only", Some(file)) => only = Some(format!("tests/e2e/{file}")),
            ("--grep", Some(pattern)) => grep = Some(format!("--test-name-pattern={pattern}")),
            _ => bail!(USAGE),
        }
    }
    web()?;
    build_bins()?;
    let mut children = Children::default();
    let endpoint = match edge {
        true => Some(ddb::start(&cache_dir(), &mut children)?),
        false => None,
    };
    let mut files: Vec<&str> = grep.as_deref().into_iter().collect();
    files.extend(match &only {
        Some(file) => vec![file.as_str()],
        None if edge => EDGE_E2E.to_vec(),
        None => vec!["tests/e2e/"],
    });
    for i in 1..=repeat {
        let started = std::time::Instant::now();
        browser_tests_with(endpoint.as_deref(), &files, &[])
            .with_context(|| format!("run {i} of {repeat} failed"))?;
        eprintln!(
            "e2e run {i} of {repeat} passed in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// What a page loads first (the loader and the widget) must stay within its budget
/// (DESIGN.md): 12 KB gzipped.
fn check_widget_size(root: &Path) -> Result<()> {
    const BUDGET: u64 = 12 * 1024;
    let sizes: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("web/dist/sizes.json"))?)?;
    let gz = sizes["first_load_gzip_bytes"]
        .as_u64()
        .context("web/dist/sizes.json has no first_load_gzip_bytes")?;
    if gz > BUDGET {
        bail!("the widget is {gz} bytes gzipped, over its {BUDGET}-byte budget");
    }
    eprintln!("widget: {gz} bytes gzipped (budget {BUDGET})");
    Ok(())
}

fn bench(args: &[String]) -> Result<()> {
    let kind = match args.first().map(String::as_str) {
        // Offline: no server, no web build.
        Some("recommend") => {
            return run(cargo()
                .args(["run", "--release", "-q", "-p", "vitrine-tests", "--bin", "vitrine-recbench", "--"])
                .args(&args[1..])
                .current_dir(root()));
        }
        // In Chromium against the release server, then the hub under many sessions.
        Some("cobrowse") => return bench_cobrowse(&args[1..]),
        Some(kind @ ("presence" | "chat" | "media" | "memory")) => kind,
        _ => bail!(
            "usage: cargo xtask bench presence [--visitors 1000,10000] [--seconds 60] [--target local|edge]\n       cargo xtask bench chat [--conversations 1000] [--seconds 30] [--target local|edge]\n       cargo xtask bench memory [--visitors 10000,50000]\n       cargo xtask bench media [--rooms 25] [--per-room 4] [--seconds 20]\n       cargo xtask bench recommend [--sessions 1000,10000,100000]\n       cargo xtask bench cobrowse [--sessions 100] [--rates 2048,32768] [--seconds 20]"
        ),
    };
    let root = root();
    let release = release_build()?;
    if kind == "media" {
        return bench_media(&release, &args[1..]);
    }
    if kind == "memory" {
        let mut command = Command::new(release.join("vitrine-hubmem"));
        return run(command.args(&args[1..]));
    }
    let mut options = BenchOptions::parse(&args[1..])?;
    if options.edge {
        edge::prepare(&root, &cache_dir(), edge::Build::Deploy)?;
    }
    if kind == "chat" {
        return bench_chat(&release, options);
    }
    let visitors = options
        .take("--visitors")
        .unwrap_or_else(|| "1000,10000".into());
    let seconds = options.take("--seconds").unwrap_or_else(|| "60".into());
    options.done()?;
    for n in visitors.split(',') {
        let mut children = Children::default();
        let server = bench_server(&release, &mut children, options.edge)?;
        load(
            &release,
            "vitrine-loadgen",
            &format!(
                "--server {} {} --visitors {n} --seconds {seconds}",
                server.url,
                server.counter_args()
            ),
        )?;
        children.stop_all();
    }
    Ok(())
}

/// The web build and the release binaries the benchmarks run; the release directory.
fn release_build() -> Result<PathBuf> {
    web()?;
    run(cargo()
        .args([
            "build",
            "--release",
            "-p",
            "vitrine-server",
            "-p",
            "vitrine-tests",
            "-p",
            "vitrine-media-node",
        ])
        .current_dir(root()))?;
    Ok(target_dir().join("release"))
}

/// Runs load generator `bin` (from `release`) with `args` on its own core, with as many
/// open files as allowed (one socket per simulated browser).
fn load(release: &Path, bin: &str, args: &str) -> Result<()> {
    run(Command::new("bash").args([
        "-c",
        &format!(
            "ulimit -n $(ulimit -Hn); exec taskset -c {LOADGEN_CORE} {} {args}",
            release.join(bin).display()
        ),
    ]))
}

/// A benchmark's options: `--target local|edge` and the benchmark's own `--name value`s.
struct BenchOptions {
    edge: bool,
    rest: Vec<(String, String)>,
}

impl BenchOptions {
    fn parse(args: &[String]) -> Result<Self> {
        let mut options = BenchOptions {
            edge: false,
            rest: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let Some(value) = it.next() else {
                bail!("bench option {flag} needs a value");
            };
            match (flag.as_str(), value.as_str()) {
                ("--target", "local") => {}
                ("--target", "edge") => options.edge = true,
                ("--target", other) => bail!("unknown target {other} (local or edge)"),
                _ => options.rest.push((flag.clone(), value.clone())),
            }
        }
        Ok(options)
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let at = self.rest.iter().position(|(flag, _)| flag == name)?;
        Some(self.rest.remove(at).1)
    }

    fn done(&self) -> Result<()> {
        match self.rest.first() {
            Some((flag, _)) => bail!("unknown bench option {flag}"),
            None => Ok(()),
        }
    }
}

/// The visitor key of bench servers: the load generators play widgets holding credentials
/// signed with it (it is `vitrine_tests::TEST_VISITOR_KEY`, which they sign with).
const BENCH_VISITOR_KEY: &str = "integration-tests-visitor-key";

/// What a benchmark's load generator talks to.
struct BenchServer {
    /// Where the sockets and the API are: the server, or the Worker in front of it.
    url: String,
    metrics_port: u16,
    pid: u32,
    edge: bool,
    /// The local server's data directory (SQLite), removed when the bench ends.
    data: Option<PathBuf>,
}

impl BenchServer {
    /// How the load generator reads the counters (and, locally, the server's memory).
    fn counter_args(&self) -> String {
        if self.edge {
            format!("--operator-token {}", edge::OPERATOR_TOKEN)
        } else {
            format!(
                "--metrics http://127.0.0.1:{} --server-pid {}",
                self.metrics_port, self.pid
            )
        }
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if let Some(data) = &self.data {
            let _ = std::fs::remove_dir_all(data);
        }
    }
}

/// The server side and the load generator each get a core of their own (`taskset`), so
/// the generator's work cannot hide in the server's numbers, nor the reverse.
const SERVER_CORE: u32 = 0;
const LOADGEN_CORE: u32 = 1;

/// Starts a release server on a fresh store (file limit raised for many sockets): SQLite
/// locally; at the edge, DynamoDB Local with the Worker in workerd in front (the server
/// is then only the API), all of it on the server core. The load comes from one address,
/// so the per-address limits are lifted; widgets are played with the test visitor key.
fn bench_server(release: &Path, children: &mut Children, edge: bool) -> Result<BenchServer> {
    let (port, metrics_port) = (children::free_port()?, children::free_port()?);
    let mut server = Command::new("bash");
    server.env("RUST_LOG", "warn");
    server.env("VITRINE_VISITOR_KEY", BENCH_VISITOR_KEY);
    let store_args;
    let (mut data, mut worker_port, mut endpoint) = (None, 0, String::new());
    if edge {
        // Everything started from here on inherits the server core, workerd's and Java's
        // threads included.
        run(Command::new("taskset").args([
            "-a",
            "-p",
            "-c",
            &SERVER_CORE.to_string(),
            &std::process::id().to_string(),
        ]))?;
        // And as many open files as allowed: workerd (and wrangler's proxy in front of it)
        // hold a socket or two per visitor.
        run(Command::new("bash").args([
            "-c",
            &format!(
                "prlimit --pid {} --nofile=262144:262144 2>/dev/null || prlimit --pid {0} --nofile=$(ulimit -Hn):$(ulimit -Hn)",
                std::process::id()
            ),
        ]))?;
        endpoint = ddb::start(&cache_dir(), children)?;
        worker_port = children::free_port()?;
        store_args = format!("--store dynamodb --dynamodb-endpoint {endpoint} --public-url http://127.0.0.1:{worker_port}");
        server
            .env(
                "VITRINE_EDGE_ORIGIN",
                format!("http://127.0.0.1:{worker_port}"),
            )
            .env("VITRINE_CHANGES_KEY", edge::CHANGES_KEY)
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", "us-east-1");
    } else {
        let dir = tempdir("vitrine-bench")?;
        store_args = format!("--data-dir {}", dir.display());
        data = Some(dir);
    }
    let pid = children.spawn(server.args([
        "-c",
        &format!(
            "ulimit -n $(ulimit -Hn); exec taskset -c {SERVER_CORE} {} --bind 127.0.0.1:{port} --demo-bind 127.0.0.1:0 \
             --metrics-bind 127.0.0.1:{metrics_port} {store_args} \
             --sockets-per-address 1000000 --conversations-per-address 1000000",
            release.join("vitrine").display(),
        ),
    ]))?;
    children::wait_for_port(port)?;
    let mut url = format!("http://127.0.0.1:{port}");
    if edge {
        let api = url.clone();
        url = edge::start_on(
            &root(),
            &cache_dir(),
            edge::Build::Deploy,
            true,
            children,
            worker_port,
            &[
                ("VITRINE_DYNAMODB_ENDPOINT", endpoint.as_str()),
                ("VITRINE_API_ORIGIN", &api),
                ("VITRINE_VISITOR_KEY", BENCH_VISITOR_KEY),
                ("VITRINE_OPERATOR_TOKEN", edge::OPERATOR_TOKEN),
                ("VITRINE_CHANGES_KEY", edge::CHANGES_KEY),
                ("VITRINE_SOCKETS_PER_ADDRESS", "1000000"),
                ("VITRINE_CONVERSATIONS_PER_ADDRESS", "1000000"),
                ("AWS_ACCESS_KEY_ID", "local"),
                ("AWS_SECRET_ACCESS_KEY", "local"),
            ],
        )?
        .url;
    }
    Ok(BenchServer {
        url,
        metrics_port,
        pid,
        edge,
        data,
    })
}

fn bench_chat(release: &Path, mut options: BenchOptions) -> Result<()> {
    let conversations = options
        .take("--conversations")
        .unwrap_or_else(|| "1000".into());
    let seconds = options.take("--seconds").unwrap_or_else(|| "30".into());
    options.done()?;
    let mut children = Children::default();
    let server = bench_server(release, &mut children, options.edge)?;
    let result = load(
        release,
        "vitrine-chatload",
        &format!(
            "--server {} {} --conversations {conversations} --seconds {seconds}",
            server.url,
            server.counter_args()
        ),
    );
    children.stop_all();
    result
}

/// P8: bytes and delay of real pages (the visitor and the agent in Chromium), then the
/// hub's CPU under many viewing sessions (a load generator on its own core).
fn bench_cobrowse(args: &[String]) -> Result<()> {
    let mut options = BenchOptions::parse(args)?;
    let sessions = options.take("--sessions").unwrap_or_else(|| "100".into());
    let rates = options
        .take("--rates")
        .unwrap_or_else(|| "2048,32768".into());
    let seconds = options.take("--seconds").unwrap_or_else(|| "20".into());
    options.done()?;
    if options.edge {
        bail!("bench cobrowse runs against the local server only");
    }
    let release = release_build()?;
    run(with_web_dirs(&mut Command::new("node"))
        .arg("tests/bench/cobrowse.mjs")
        .env("VITRINE_BIN", release.join("vitrine"))
        .env("VITRINE_MEDIA_BIN", release.join("vitrine-media-node"))
        .current_dir(root()))?;
    let mut children = Children::default();
    let server = bench_server(&release, &mut children, false)?;
    let result = load(
        &release,
        "vitrine-cobrowseload",
        &format!(
            "--server {} --server-pid {} --sessions {sessions} --rates {rates} --seconds {seconds}",
            server.url, server.pid
        ),
    );
    children.stop_all();
    result
}

/// The media node under synthetic str0m participants (all in one load-generator
/// process on the same 2 cores): delivery, forwarding delay, node memory per participant.
fn bench_media(release: &Path, args: &[String]) -> Result<()> {
    let (mut rooms, mut per_room, mut seconds) =
        ("25".to_string(), "4".to_string(), "20".to_string());
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match (flag.as_str(), it.next()) {
            ("--rooms", Some(v)) => rooms = v.clone(),
            ("--per-room", Some(v)) => per_room = v.clone(),
            ("--seconds", Some(v)) => seconds = v.clone(),
            _ => bail!("unknown bench option {flag}"),
        }
    }
    const KEY: &str = "bench-media-key-0123456789";
    let mut children = Children::default();
    let port = children::free_port()?;
    let pid = children.spawn(
        Command::new(release.join("vitrine-media-node"))
            .args([
                "--http",
                &format!("127.0.0.1:{port}"),
                "--udp",
                "127.0.0.1:0",
            ])
            .env("VITRINE_CALL_KEY", KEY)
            .env("RUST_LOG", "warn"),
    )?;
    children::wait_for_port(port)?;
    let rss = || -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    };
    // The node's CPU time (utime + stime, clock ticks of 1/100 s) from /proc/<pid>/stat.
    let cpu_ticks = move || -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let after = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
                Some(after.get(11)?.parse::<u64>().ok()? + after.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0)
    };
    let idle_kib = rss();
    let mut load = Command::new(release.join("vitrine-mediaload"))
        .args([
            "--ws",
            &format!("ws://127.0.0.1:{port}/ws/call"),
            "--key",
            KEY,
            "--rooms",
            &rooms,
            "--per-room",
            &per_room,
            "--seconds",
            &seconds,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    // The node's CPU over the steady state only: from the load generator's
    // "measuring" line on stderr (everyone connected) until it exits. Its stdout
    // is the JSON report alone, so other callers can parse it as is.
    let stderr = load.stderr.take().context("load generator stderr")?;
    let watcher = std::thread::spawn(move || {
        use std::io::BufRead;
        let (mut start, mut log) = (None, String::new());
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line == "measuring" {
                start = Some((cpu_ticks(), std::time::Instant::now()));
            } else {
                log.push_str(&line);
                log.push('\n');
            }
        }
        let cpu = start.map(|(ticks, at)| {
            (
                cpu_ticks().saturating_sub(ticks) as f64 / 100.0,
                at.elapsed().as_secs_f64(),
            )
        });
        (log, cpu)
    });
    // Peak node memory while the participants are connected.
    let mut loaded_kib = idle_kib;
    while load.try_wait()?.is_none() {
        loaded_kib = loaded_kib.max(rss());
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let output = load.wait_with_output()?;
    let (log, cpu) = watcher.join().expect("stderr watcher");
    children.stop_all();
    if !output.status.success() {
        bail!("vitrine-mediaload failed: {log}");
    }
    let report = String::from_utf8(output.stdout)?.trim().to_owned();
    let participants: f64 = rooms.parse::<f64>()? * per_room.parse::<f64>()?;
    println!("{report}");
    println!(
        "media node RSS: idle {idle_kib} KiB, loaded {loaded_kib} KiB, {:.0} KiB per participant",
        (loaded_kib.saturating_sub(idle_kib)) as f64 / participants
    );
    if let Some((cpu_seconds, wall_seconds)) = cpu {
        let cores = cpu_seconds / wall_seconds;
        let streams: f64 = serde_json::from_str::<serde_json::Value>(&report)?["consumer_streams"]
            .as_f64()
            .unwrap_or(0.0);
        println!(
            "media node CPU in the steady state: {cpu_seconds:.1} s over {wall_seconds:.1} s = {cores:.2} cores busy; {:.0} consumer streams per busy core",
            if cores > 0.0 { streams / cores } else { 0.0 }
        );
    }
    Ok(())
}

fn tempdir(prefix: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

//! `vitrine-api-lambda` run for real: the binary polls a Lambda Runtime API emulator
//! (cargo-lambda's `watch --only-lambda-apis`, from crates.io, which also turns plain HTTP
//! into function-URL events, payload v2) and works on DynamoDB Local and an S3-compatible
//! server. `cargo xtask test` provides all three (VITRINE_CARGO_LAMBDA,
//! VITRINE_DYNAMODB_ENDPOINT, VITRINE_S3_ENDPOINT), and runs this test again on each
//! packaged `bootstrap` (VITRINE_LAMBDA_BOOTSTRAP; VITRINE_LAMBDA_RUNNER runs the arm64 one
//! under qemu-user).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vitrine_lambdas::setup;
use vitrine_store::DynamoStore;

const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x64, 0xf8, 0xcf, 0x50,
    0x0f, 0x00, 0x03, 0x86, 0x01, 0x80, 0x5a, 0x34, 0x7d, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

fn required(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests with `cargo xtask test`"))
}

/// Processes this test started, killed when it ends however it ends.
struct Started(Vec<Child>);
impl Drop for Started {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until `port` accepts connections (the Runtime API is up before a function
/// starts, as in Lambda).
async fn listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the emulator did not listen in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The binary this build made, or a packaged `bootstrap` (through its runner, if any).
fn function_command() -> Command {
    let Ok(bootstrap) = std::env::var("VITRINE_LAMBDA_BOOTSTRAP") else {
        return Command::new(env!("CARGO_BIN_EXE_vitrine-api-lambda"));
    };
    let runner = std::env::var("VITRINE_LAMBDA_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(bootstrap);
            command
        }
        None => Command::new(bootstrap),
    }
}

#[tokio::test]
async fn the_api_lambda_serves_the_portals_requests_under_the_runtime_api() {
    let (dynamodb, s3) = (
        required("VITRINE_DYNAMODB_ENDPOINT"),
        required("VITRINE_S3_ENDPOINT"),
    );
    let table = format!("lambda-{}", std::process::id());
    let store = DynamoStore::connect_local(&dynamodb, &table).await;
    store.ensure_table().await.expect("a table");
    setup::seed_demo(
        &store,
        &setup::Demo {
            site_key: "lambda-shop".into(),
            admin_email: "admin@lambda.test".into(),
            admin_password: "correct horse battery".into(),
            shop_url: "https://shop.example.com".into(),
            products: vec![],
        },
    )
    .await
    .expect("seed");

    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let emulator = Command::new(required("VITRINE_CARGO_LAMBDA"))
        .args(["lambda", "watch", "--only-lambda-apis", "--disable-cors"])
        .args([
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ])
        .current_dir(
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("cargo-lambda starts");
    let mut started = Started(vec![emulator]);
    listening(port).await;
    let function = function_command()
        .env("AWS_LAMBDA_RUNTIME_API", format!("{origin}/.rt"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("VITRINE_DYNAMODB_TABLE", &table)
        .env("VITRINE_DYNAMODB_ENDPOINT", &dynamodb)
        .env("VITRINE_S3_BUCKET", "lambda-blobs")
        .env("VITRINE_S3_ENDPOINT", &s3)
        // Plain HTTP here; the API's cookie is Secure in the cloud.
        .env("VITRINE_SECURE_COOKIES", "false")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_REGION", "us-east-1")
        .spawn()
        .expect("the Lambda starts");
    started.0.push(function);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let health = http.get(format!("{origin}/api/health")).send().await;
    assert!(
        health.is_ok_and(|r| r.status() == 200),
        "the Lambda answers"
    );
    let url = |path: &str| format!("{origin}{path}");

    // Sign-in: the cookie comes back as a Set-Cookie header (the emulator turns payload
    // v2's `cookies` into headers, as API Gateway does).
    let login = http
        .post(url("/api/login"))
        .header("origin", &origin)
        .json(&json!({"email": "admin@lambda.test", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();

    // The cookie round trip, and the same request without it.
    let signed_in_get = |path: &str| {
        let request = http.get(url(path)).header("cookie", &cookie);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let me = signed_in_get("/api/me").await;
    assert_eq!(me["agent"]["email"], "admin@lambda.test", "{me}");
    let anonymous = http.get(url("/api/me")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    // An admin write lands in DynamoDB: the next read (another invocation) sees it.
    let created = http
        .post(url("/api/canned"))
        .header("cookie", &cookie)
        .header("origin", &origin)
        .json(&json!({"shortcut": "returns", "text": "Returns are free for 30 days."}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let canned = signed_in_get("/api/canned").await;
    assert!(
        canned.to_string().contains("Returns are free for 30 days."),
        "{canned}"
    );

    // A binary upload (base64 in the event) and the same bytes back (base64 out).
    let uploaded: Value = http
        .post(url("/api/uploads"))
        .header("cookie", &cookie)
        .header("origin", &origin)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let blob_url = uploaded["url"].as_str().expect("a blob URL").to_string();
    let blob = http.get(url(&blob_url)).send().await.unwrap();
    assert_eq!(blob.status(), 200);
    assert_eq!(blob.headers()["content-type"], "image/png");
    assert_eq!(blob.bytes().await.unwrap().as_ref(), PNG);

    let missing = http
        .get(url("/api/nothing-here"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

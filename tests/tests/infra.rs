//! The AWS template (`infra/aws/template.yaml`) and the code cannot drift apart: the table
//! it defines is created in DynamoDB Local and the whole store contract suite runs on it,
//! and no IAM statement in it grants a wildcard. (cfn-lint and checkov run on it in
//! `cargo xtask test`; these are the checks only this project knows to make.)

use serde_json::{json, Value};
use vitrine_dynamo::native::DynamoStore;

/// The template as JSON, short-form intrinsics spelled out (`!Ref X` → `{"Ref": "X"}`,
/// `!GetAtt A.B` → `{"Fn::GetAtt": "A.B"}`).
fn template() -> Value {
    // The manifest dir at run time (a reused test binary keeps its build's path).
    let dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let text =
        std::fs::read_to_string(format!("{dir}/../infra/aws/template.yaml")).expect("the template");
    to_json(serde_norway::from_str(&text).expect("YAML"))
}

fn to_json(value: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => json!(b),
        Y::Number(n) => serde_json::to_value(n).expect("a number"),
        Y::String(s) => json!(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_string(), to_json(v)))
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let name = tagged.tag.to_string();
            let name = name.trim_start_matches('!');
            let key = if name == "Ref" {
                "Ref".to_string()
            } else {
                format!("Fn::{name}")
            };
            json!({ key: to_json(tagged.value) })
        }
    }
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// The one table's properties.
fn table_properties() -> Value {
    let template = template();
    let tables = resources_of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one table");
    tables[0].1["Properties"].clone()
}

/// A store on a fresh table made from the template's definition (DynamoDB Local).
async fn store_on_the_templates_table() -> DynamoStore {
    let endpoint = std::env::var("VITRINE_DYNAMODB_ENDPOINT")
        .expect("VITRINE_DYNAMODB_ENDPOINT is not set: run the tests with `cargo xtask test`");
    let properties = table_properties();
    let mut definition = serde_json::Map::new();
    for (name, value) in properties.as_object().expect("Properties") {
        match name.as_str() {
            // The shape of the data: what CreateTable takes.
            "KeySchema"
            | "AttributeDefinitions"
            | "BillingMode"
            | "GlobalSecondaryIndexes"
            | "LocalSecondaryIndexes" => {
                definition.insert(name.clone(), value.clone());
            }
            "TimeToLiveSpecification" => {}
            // Protection of the data, not its shape (DynamoDB Local ignores them).
            "PointInTimeRecoverySpecification"
            | "SSESpecification"
            | "DeletionProtectionEnabled"
            | "Tags" => {}
            other => panic!(
                "the template's table has {other}: say here whether it changes the data's shape"
            ),
        }
    }
    let ttl = &properties["TimeToLiveSpecification"];
    assert_eq!(ttl["Enabled"], true, "expiry must be on: {ttl}");
    let ttl_attribute = ttl["AttributeName"].as_str().expect("a TTL attribute");
    let store =
        DynamoStore::connect_local(&endpoint, &format!("template-{}", uuid::Uuid::new_v4())).await;
    store
        .create_table(Value::Object(definition), ttl_attribute)
        .await
        .expect("DynamoDB Local creates the template's table");
    store
}

mod contract_on_the_templates_table {
    use super::store_on_the_templates_table;
    vitrine_core::store_contract_tests!(store_on_the_templates_table());
}

/// Every policy statement in the template, with where it is.
fn statements(value: &Value, at: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let here = format!("{at}.{key}");
                match (key.as_str(), inner) {
                    ("Statement", Value::Array(list)) => {
                        out.extend(list.iter().map(|s| (here.clone(), s.clone())))
                    }
                    _ => statements(inner, &here, out),
                }
            }
        }
        Value::Array(list) => {
            for (i, inner) in list.iter().enumerate() {
                statements(inner, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(list) => list.clone(),
        Value::Null => vec![],
        one => vec![one.clone()],
    }
}

/// IAM findings in `template` (empty when least privilege holds).
fn wildcard_grants(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut all = Vec::new();
    statements(template, "", &mut all);
    assert!(
        all.len() >= 4,
        "the template's policies were found: {all:?}"
    );
    for (at, statement) in all {
        let actions = as_list(&statement["Action"]);
        for action in &actions {
            if action.as_str().is_some_and(|a| a.contains('*')) {
                found.push(format!("{at}: wildcard action {action}"));
            }
        }
        if statement.get("NotAction").is_some() || statement.get("NotResource").is_some() {
            found.push(format!("{at}: NotAction/NotResource grant everything else"));
        }
        let resources = as_list(&statement["Resource"]);
        for resource in &resources {
            if resource == "*" {
                found.push(format!("{at}: resource *"));
            }
        }
        let on_the_table = actions
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.starts_with("dynamodb:")));
        let table_arn = json!({"Fn::GetAtt": "Table.Arn"});
        if on_the_table && resources.iter().any(|r| *r != table_arn) {
            found.push(format!(
                "{at}: DynamoDB actions on something other than the table: {resources:?}"
            ));
        }
    }
    found
}

#[test]
fn no_policy_in_the_template_grants_a_wildcard_action_or_resource() {
    let findings = wildcard_grants(&template());
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn the_wildcard_check_catches_a_table_policy_widened_by_hand() {
    let mut widened = template();
    let api = &mut widened["Resources"]["Api"]["Properties"]["Policies"][0]["Statement"][0];
    api["Action"] = json!("dynamodb:*");
    api["Resource"] = json!("*");
    let findings = wildcard_grants(&widened);
    assert_eq!(findings.len(), 3, "{findings:#?}");
}

/// The relay's `turnserver.conf` as the template's UserData writes it, with the values the
/// VM would fill in given here.
fn relay_config(template: &Value, fill: &[(&str, &str)]) -> String {
    let user_data = template["Resources"]["TurnRelay"]["Properties"]["UserData"]["Fn::Base64"]
        ["Fn::Sub"]
        .as_str()
        .expect("the relay's UserData");
    let start = user_data.find("<<CONF\n").expect("the config's heredoc") + "<<CONF\n".len();
    let end = user_data[start..].find("\nCONF").expect("its end") + start;
    let mut conf = user_data[start..end].to_string();
    for (from, to) in fill {
        assert!(
            conf.contains(from),
            "{from} not in the relay config:\n{conf}"
        );
        conf = conf.replace(from, to);
    }
    conf
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs coturn's own test client against the relay over TCP: the output. `peer: None`
/// relays between two allocations of its own (both on the relay's address).
fn uclient(port: u16, server: &vitrine_core::protocol::IceServer, peer: Option<&str>) -> String {
    let peer = match peer {
        Some(peer) => vec!["-e", peer],
        None => vec!["-y"],
    };
    let out = std::process::Command::new("turnutils_uclient")
        .args(["-n", "3", "-m", "1", "-t", "-p", &port.to_string()])
        .args(["-u", server.username.as_deref().unwrap()])
        .args(["-w", server.credential.as_deref().unwrap()])
        .args(peer)
        .arg("127.0.0.1")
        .output()
        .expect("turnutils_uclient (Debian's coturn)");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn the_deployed_relay_takes_the_hubs_credentials_and_relays_to_the_media_node_only() {
    use vitrine_core::turn::TurnConfig;
    // The template's config, on loopback ports; the media node is 127.0.0.1 here, and
    // coturn refuses loopback peers unless told (on the VM the node has a public address).
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("vitrine-relay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("key.pem");
    let cert = dir.join("cert.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=turn.example.com", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success());
    let tls = free_port().to_string();
    let conf = relay_config(
        &template(),
        &[
            ("listening-port=3478", &format!("listening-port={port}")),
            (
                "tls-listening-port=443",
                &format!("tls-listening-port={tls}"),
            ),
            ("${TurnAddress}/$(imds local-ipv4)", "127.0.0.1"),
            ("${TurnDomain}", "turn.example.com"),
            ("$(secret \"${TurnSecret}\")", "relay-secret"),
            ("/etc/coturn/tls/cert.pem", cert.to_str().unwrap()),
            ("/etc/coturn/tls/key.pem", key.to_str().unwrap()),
            (
                "allowed-peer-ip=${MediaNodeAddress}",
                "allowed-peer-ip=127.0.0.1\nallow-loopback-peers",
            ),
            ("log-file=syslog", "log-file=stdout\nlistening-ip=127.0.0.1"),
        ],
    );
    assert!(!conf.contains("${"), "unfilled values:\n{conf}");
    let conf_path = dir.join("turnserver.conf");
    std::fs::write(&conf_path, &conf).unwrap();
    let mut relay = std::process::Command::new("turnserver")
        .arg("-c")
        .arg(&conf_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("turnserver (Debian's coturn)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "coturn never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let now = vitrine_core::clock::now_ms();
    let hub = TurnConfig::new(vec![format!("turn:127.0.0.1:{port}")], "relay-secret");
    let seat = hub.ice_server("room-1.visitor-1", now);
    let to_node = uclient(port, &seat, None);
    let elsewhere = uclient(port, &seat, Some("127.0.0.3"));
    let stranger = TurnConfig::new(vec![], "not-the-secret").ice_server("room-1.x", now);
    let forged = uclient(port, &stranger, None);
    let expired = uclient(port, &hub.ice_server("room-1.x", now - 5 * 3_600_000), None);
    let _ = relay.kill();
    let _ = relay.wait();
    let _ = std::fs::remove_dir_all(&dir);

    assert!(
        to_node.contains("Total lost packets 0"),
        "to the node:\n{to_node}"
    );
    assert!(
        elsewhere.contains("403"),
        "to another address:\n{elsewhere}"
    );
    assert!(
        forged.contains("Cannot complete Allocation"),
        "forged:\n{forged}"
    );
    assert!(
        expired.contains("Cannot complete Allocation"),
        "expired:\n{expired}"
    );
}

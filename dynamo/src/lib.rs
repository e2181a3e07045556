//! The store on DynamoDB, written once for every runtime: DynamoDB's JSON protocol
//! (`application/x-amz-json-1.0`), requests signed with SigV4 (`aws-sigv4`, pure Rust),
//! carried by a [`Transport`] — `reqwest` natively (`native`), the Worker's `fetch` in
//! wasm32 (`fetch`). The AWS SDK does not build for wasm32, and one client for both keeps the
//! table's layout, the item ↔ attribute mapping and every condition in one place.
//!
//! The table: `pk` (S) hash key, `sk` (S) range key, `ttl` (N, Unix seconds) the TTL
//! attribute; item attributes are native DynamoDB types (`serde_dynamo`), so the table
//! stays readable in the AWS console. Expired items DynamoDB has not deleted yet are
//! filtered on read, as the store contract says.
//!
//! Throttling and server errors are retried with backoff ([`RETRIES`]); what still fails
//! is a `StoreError::Backend`, which the hub turns into `not_saved` for a message.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, UNIX_EPOCH};

use serde_dynamo::AttributeValue;
use serde_json::{json, Map, Value};
use vitrine_core::store::{
    validate_attributes, validate_item, validate_key, validate_transaction, Condition, Item, Page,
    Query, StoreError, StoreResult, Write,
};

/// Implements a store trait (`Store` natively, `LocalStore` in the Worker) for a
/// `Dynamo<transport>` by calling its inherent methods: written once for both.
macro_rules! store_for {
    ($store:path, $transport:ty) => {
        impl $store for $crate::Dynamo<$transport> {
            async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
                $crate::Dynamo::get(self, pk, sk).await
            }
            async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
                $crate::Dynamo::put(self, item, condition).await
            }
            async fn update(
                &self,
                pk: &str,
                sk: &str,
                attrs: Map<String, Value>,
            ) -> StoreResult<()> {
                $crate::Dynamo::update(self, pk, sk, attrs).await
            }
            async fn delete(&self, pk: &str, sk: &str) -> StoreResult<()> {
                $crate::Dynamo::delete(self, pk, sk).await
            }
            async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
                $crate::Dynamo::transact(self, writes).await
            }
            async fn incr(&self, pk: &str, sk: &str, expires_at: u64) -> StoreResult<u64> {
                $crate::Dynamo::incr(self, pk, sk, expires_at).await
            }
            async fn query(&self, query: Query) -> StoreResult<Page> {
                $crate::Dynamo::query(self, query).await
            }
            async fn count(&self, pk: &str, sk_prefix: &str) -> StoreResult<u64> {
                $crate::Dynamo::count(self, pk, sk_prefix).await
            }
        }
    };
}

#[cfg(target_arch = "wasm32")]
pub mod fetch;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;

/// AWS credentials (a Worker's come from its secrets; natively from the standard chain).
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

/// What a runtime provides: time, credentials, one HTTP POST, and a way to wait.
pub trait Transport {
    /// The wall clock, in milliseconds since the Unix epoch (signing, TTL filtering).
    fn now_ms(&self) -> u64;
    fn credentials(&self) -> impl Future<Output = Result<Credentials, String>>;
    /// POSTs `body` with `headers`; the status and body of the answer, or why there is none.
    fn post(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(u16, Vec<u8>), String>>;
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
}

/// Attempts after the first for a throttled or failed request.
pub const RETRIES: u32 = 3;
/// The first wait before a retry; doubled each time (50, 100, 200 ms).
const BACKOFF_MS: u64 = 50;

/// One DynamoDB table, reached through `T`.
#[derive(Clone)]
pub struct Dynamo<T> {
    transport: T,
    endpoint: String,
    host: String,
    region: String,
    table: String,
    /// HTTP requests sent (retries included), shared by clones: what DynamoDB bills.
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Why a request did not succeed.
#[derive(Debug)]
enum Failure {
    /// A condition did not hold (the store contract's `ConditionFailed`).
    Condition,
    /// Worth trying again: throttled, a server error, no answer.
    Transient(String),
    Fatal(String),
}

impl From<Failure> for StoreError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Condition => StoreError::ConditionFailed,
            Failure::Transient(why) | Failure::Fatal(why) => {
                StoreError::Backend(format!("dynamodb: {why}"))
            }
        }
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: &str, sk: &str) -> Value {
    json!({ "pk": s(pk), "sk": s(sk) })
}

/// The one mapping from a store item to DynamoDB attributes.
pub fn to_attributes(item: &Item) -> StoreResult<HashMap<String, AttributeValue>> {
    let mut map: HashMap<String, AttributeValue> = serde_dynamo::to_item(&item.attrs)
        .map_err(|e| StoreError::Invalid(format!("item does not convert to DynamoDB: {e}")))?;
    map.insert("pk".into(), s(&item.pk));
    map.insert("sk".into(), s(&item.sk));
    if let Some(ttl) = item.expires_at {
        map.insert("ttl".into(), n(ttl));
    }
    Ok(map)
}

/// …and back.
pub fn from_attributes(mut map: HashMap<String, AttributeValue>) -> StoreResult<Item> {
    let mut take_s = |k: &str| match map.remove(k) {
        Some(AttributeValue::S(v)) => Ok(v),
        other => Err(StoreError::Corrupt(format!(
            "attribute {k} is not a string: {other:?}"
        ))),
    };
    let pk = take_s("pk")?;
    let sk = take_s("sk")?;
    let expires_at = match map.remove("ttl") {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    };
    let attrs: Map<String, Value> = serde_dynamo::from_item(map)
        .map_err(|e| StoreError::Corrupt(format!("item {pk}/{sk}: {e}")))?;
    Ok(Item {
        pk,
        sk,
        attrs,
        expires_at,
    })
}

fn attributes(value: &Value) -> StoreResult<HashMap<String, AttributeValue>> {
    serde_json::from_value(value.clone())
        .map_err(|e| StoreError::Corrupt(format!("unexpected DynamoDB answer: {e}")))
}

/// Only an absent item, or one expired but not deleted yet, may be created.
fn not_exists(now: u64) -> Value {
    json!({
        "ConditionExpression": "attribute_not_exists(pk) OR #ttl <= :now",
        "ExpressionAttributeNames": { "#ttl": "ttl" },
        "ExpressionAttributeValues": { ":now": n(now) },
    })
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

impl<T: Transport> Dynamo<T> {
    /// `endpoint`: `https://dynamodb.{region}.amazonaws.com`, or a local server's URL.
    pub fn new(transport: T, endpoint: &str, region: &str, table: &str) -> Self {
        let endpoint = endpoint.trim_end_matches('/').to_string() + "/";
        let host = endpoint
            .split_once("://")
            .map_or(endpoint.as_str(), |(_, rest)| rest)
            .trim_end_matches('/')
            .to_string();
        Self {
            transport,
            endpoint,
            host,
            region: region.to_string(),
            table: table.to_string(),
            requests: Default::default(),
        }
    }

    /// HTTP requests sent to DynamoDB so far (retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    fn now_secs(&self) -> u64 {
        self.transport.now_ms() / 1000
    }

    /// The SigV4 headers (and the protocol's own) for one request.
    fn signed_headers(
        &self,
        operation: &str,
        body: &[u8],
        credentials: Credentials,
    ) -> Result<Vec<(String, String)>, Failure> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_smithy_runtime_api::client::identity::Identity;
        let identity: Identity = aws_credential_types::Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            credentials.session_token,
            None,
            "vitrine",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("dynamodb")
            .time(UNIX_EPOCH + Duration::from_millis(self.transport.now_ms()))
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| Failure::Fatal(format!("signing: {e}")))?
            .into();
        let target = format!("DynamoDB_20120810.{operation}");
        let mut headers = vec![
            (
                "content-type".to_string(),
                "application/x-amz-json-1.0".to_string(),
            ),
            ("x-amz-target".to_string(), target),
        ];
        // `host` is signed but never sent by hand: the transport sets it from the URL.
        let signed = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain([("host", self.host.as_str())]);
        let request =
            SignableRequest::new("POST", &self.endpoint, signed, SignableBody::Bytes(body))
                .map_err(|e| Failure::Fatal(format!("signing: {e}")))?;
        let (instructions, _) = sign(request, &params)
            .map_err(|e| Failure::Fatal(format!("signing: {e}")))?
            .into_parts();
        for (name, value) in instructions.headers() {
            headers.push((name.to_string(), value.to_string()));
        }
        Ok(headers)
    }

    /// One operation, retried with backoff while DynamoDB throttles or fails.
    async fn call(&self, operation: &str, request: Value) -> Result<Value, Failure> {
        let body = serde_json::to_vec(&request).map_err(|e| Failure::Fatal(e.to_string()))?;
        let mut attempt = 0;
        loop {
            match self.send(operation, &body).await {
                Err(Failure::Transient(_)) if attempt < RETRIES => {
                    self.transport.sleep(BACKOFF_MS << attempt).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn send(&self, operation: &str, body: &[u8]) -> Result<Value, Failure> {
        let credentials = self
            .transport
            .credentials()
            .await
            .map_err(|e| Failure::Transient(format!("credentials: {e}")))?;
        let headers = self.signed_headers(operation, body, credentials)?;
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (status, answer) = self
            .transport
            .post(&self.endpoint, headers, body.to_vec())
            .await
            .map_err(Failure::Transient)?;
        if status == 200 {
            return serde_json::from_slice(&answer)
                .map_err(|e| Failure::Fatal(format!("{operation}: unreadable answer: {e}")));
        }
        Err(classify(status, &answer))
    }

    /// Creates the table (with TTL on) unless it exists. In the cloud the table comes from
    /// the infrastructure template; this is for local servers and tests.
    pub async fn ensure_table(&self) -> StoreResult<()> {
        let table = json!({ "TableName": self.table });
        match self.call("DescribeTable", table).await {
            Ok(_) => return Ok(()),
            Err(Failure::Fatal(why)) if why.starts_with("ResourceNotFoundException") => {}
            Err(e) => return Err(e.into()),
        }
        let attribute = |name: &str| json!({ "AttributeName": name, "AttributeType": "S" });
        let definition = json!({
            "KeySchema": [
                { "AttributeName": "pk", "KeyType": "HASH" },
                { "AttributeName": "sk", "KeyType": "RANGE" },
            ],
            "AttributeDefinitions": [attribute("pk"), attribute("sk")],
            "BillingMode": "PAY_PER_REQUEST",
        });
        match self.create(definition, "ttl").await {
            // Another process (a second API instance starting) created it meanwhile.
            Err(Failure::Fatal(why)) if why.starts_with("ResourceInUseException") => Ok(()),
            outcome => Ok(outcome?),
        }
    }

    /// Creates this store's table from a `CreateTable` request's fields (key schema,
    /// attributes, billing, indexes) and turns expiry on for `ttl_attribute`. The tests
    /// build the infrastructure template's table with it.
    pub async fn create_table(&self, definition: Value, ttl_attribute: &str) -> StoreResult<()> {
        Ok(self.create(definition, ttl_attribute).await?)
    }

    async fn create(&self, mut definition: Value, ttl_attribute: &str) -> Result<(), Failure> {
        definition["TableName"] = json!(self.table);
        self.call("CreateTable", definition).await?;
        self.call(
            "UpdateTimeToLive",
            json!({
                "TableName": self.table,
                "TimeToLiveSpecification": { "AttributeName": ttl_attribute, "Enabled": true },
            }),
        )
        .await?;
        Ok(())
    }

    pub async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .call(
                "GetItem",
                json!({ "TableName": self.table, "Key": key(pk, sk), "ConsistentRead": true }),
            )
            .await?;
        match out.get("Item") {
            Some(map) => {
                let item = from_attributes(attributes(map)?)?;
                Ok((!item.is_expired(self.now_secs())).then_some(item))
            }
            None => Ok(None),
        }
    }

    pub async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        validate_item(&item)?;
        let mut request = json!({ "TableName": self.table, "Item": to_attributes(&item)? });
        if condition == Condition::NotExists {
            merge(&mut request, not_exists(self.now_secs()));
        }
        self.call("PutItem", request).await?;
        Ok(())
    }

    pub async fn update(&self, pk: &str, sk: &str, attrs: Map<String, Value>) -> StoreResult<()> {
        validate_key(pk, sk)?;
        validate_attributes(&attrs)?;
        if attrs.is_empty() {
            return Ok(());
        }
        let values: HashMap<String, AttributeValue> = serde_dynamo::to_item(&attrs)
            .map_err(|e| StoreError::Invalid(format!("attributes do not convert: {e}")))?;
        let mut names = Map::new();
        let mut bound = Map::new();
        let mut sets = Vec::new();
        names.insert("#ttl".into(), json!("ttl"));
        bound.insert(":now".into(), json!(n(self.now_secs())));
        for (i, (name, value)) in values.into_iter().enumerate() {
            sets.push(format!("#a{i} = :v{i}"));
            names.insert(format!("#a{i}"), json!(name));
            bound.insert(format!(":v{i}"), json!(value));
        }
        let request = json!({
            "TableName": self.table,
            "Key": key(pk, sk),
            // An update never creates an item, nor revives an expired one.
            "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(#ttl) OR #ttl > :now)",
            "UpdateExpression": format!("SET {}", sets.join(", ")),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": bound,
        });
        self.call("UpdateItem", request).await?;
        Ok(())
    }

    pub async fn delete(&self, pk: &str, sk: &str) -> StoreResult<()> {
        let request = json!({ "TableName": self.table, "Key": key(pk, sk) });
        self.call("DeleteItem", request).await?;
        Ok(())
    }

    pub async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        let now = self.now_secs();
        let mut items = Vec::with_capacity(writes.len());
        for write in &writes {
            items.push(match write {
                Write::Put { item, condition } => {
                    let mut put = json!({ "TableName": self.table, "Item": to_attributes(item)? });
                    if *condition == Condition::NotExists {
                        merge(&mut put, not_exists(now));
                    }
                    json!({ "Put": put })
                }
                Write::Delete { pk, sk } => {
                    json!({ "Delete": { "TableName": self.table, "Key": key(pk, sk) } })
                }
            });
        }
        self.call("TransactWriteItems", json!({ "TransactItems": items }))
            .await?;
        Ok(())
    }

    pub async fn incr(&self, pk: &str, sk: &str, expires_at: u64) -> StoreResult<u64> {
        validate_key(pk, sk)?;
        let request = json!({
            "TableName": self.table,
            "Key": key(pk, sk),
            // An expired counter DynamoDB has not deleted yet starts again (below).
            "ConditionExpression": "attribute_not_exists(#ttl) OR #ttl > :now",
            "UpdateExpression": "SET #n = if_not_exists(#n, :zero) + :one, #ttl = if_not_exists(#ttl, :exp)",
            "ExpressionAttributeNames": { "#n": "n", "#ttl": "ttl" },
            "ExpressionAttributeValues": {
                ":now": n(self.now_secs()), ":zero": n(0), ":one": n(1), ":exp": n(expires_at),
            },
            "ReturnValues": "UPDATED_NEW",
        });
        match self.call("UpdateItem", request).await {
            Ok(out) => match out.pointer("/Attributes/n/N").and_then(Value::as_str) {
                Some(count) => count
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("counter {pk}/{sk}: {count}"))),
                None => Err(StoreError::Corrupt(format!("counter {pk}/{sk}: {out}"))),
            },
            Err(Failure::Condition) => {
                let fresh = Item::new(pk, sk, json!({ "n": 1 })).with_expiry(expires_at);
                self.put(fresh, Condition::Always).await?;
                Ok(1)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A Query request on one partition (and sort-key prefix), unexpired items only.
    fn query_request(&self, pk: &str, sk_prefix: &str) -> Value {
        let mut values = json!({ ":now": n(self.now_secs()), ":pk": s(pk) });
        let key_condition = if sk_prefix.is_empty() {
            "pk = :pk"
        } else {
            values[":prefix"] = json!(s(sk_prefix));
            "pk = :pk AND begins_with(sk, :prefix)"
        };
        json!({
            "TableName": self.table,
            "ConsistentRead": true,
            "KeyConditionExpression": key_condition,
            "FilterExpression": "attribute_not_exists(#ttl) OR #ttl > :now",
            "ExpressionAttributeNames": { "#ttl": "ttl" },
            "ExpressionAttributeValues": values,
        })
    }

    pub async fn query(&self, query: Query) -> StoreResult<Page> {
        let mut request = self.query_request(&query.pk, &query.sk_prefix);
        request["ScanIndexForward"] = json!(!query.descending);
        request["Limit"] = json!(query.limit.max(1));
        if let Some(cursor) = &query.start_after {
            request["ExclusiveStartKey"] = key(&query.pk, cursor);
        }
        let out = self.call("Query", request).await?;
        let items = match out.get("Items").and_then(Value::as_array) {
            Some(items) => items
                .iter()
                .map(|i| from_attributes(attributes(i)?))
                .collect::<StoreResult<Vec<_>>>()?,
            None => Vec::new(),
        };
        let next = out
            .pointer("/LastEvaluatedKey/sk/S")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(Page { items, next })
    }

    pub async fn count(&self, pk: &str, sk_prefix: &str) -> StoreResult<u64> {
        let mut total = 0;
        let mut start: Option<Value> = None;
        loop {
            let mut request = self.query_request(pk, sk_prefix);
            request["Select"] = json!("COUNT");
            if let Some(start) = start.take() {
                request["ExclusiveStartKey"] = start;
            }
            let out = self.call("Query", request).await?;
            total += out.get("Count").and_then(Value::as_u64).unwrap_or(0);
            match out.get("LastEvaluatedKey") {
                Some(next) if next.as_object().is_some_and(|o| !o.is_empty()) => {
                    start = Some(next.clone())
                }
                _ => return Ok(total),
            }
        }
    }
}

/// What an error answer means: DynamoDB names its errors in `__type`.
fn classify(status: u16, answer: &[u8]) -> Failure {
    let error: Value = serde_json::from_slice(answer).unwrap_or(Value::Null);
    let kind = error["__type"]
        .as_str()
        .and_then(|t| t.rsplit('#').next())
        .unwrap_or("");
    let message = error["message"]
        .as_str()
        .or(error["Message"].as_str())
        .unwrap_or("");
    let reasons: Vec<&str> = error["CancellationReasons"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["Code"].as_str()).collect())
        .unwrap_or_default();
    let why = format!("{kind} ({status}): {message}");
    match kind {
        "ConditionalCheckFailedException" => Failure::Condition,
        "TransactionCanceledException" if reasons.contains(&"ConditionalCheckFailed") => {
            Failure::Condition
        }
        "TransactionCanceledException"
            if reasons
                .iter()
                .any(|r| matches!(*r, "TransactionConflict" | "ThrottlingError")) =>
        {
            Failure::Transient(why)
        }
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "TransactionConflictException"
        | "TransactionInProgressException" => Failure::Transient(why),
        _ if status >= 500 => Failure::Transient(why),
        _ => Failure::Fatal(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transport that only tells the time (signing needs nothing else).
    struct At(u64);

    impl Transport for At {
        fn now_ms(&self) -> u64 {
            self.0
        }
        async fn credentials(&self) -> Result<Credentials, String> {
            unreachable!()
        }
        async fn post(
            &self,
            _: &str,
            _: Vec<(String, String)>,
            _: Vec<u8>,
        ) -> Result<(u16, Vec<u8>), String> {
            unreachable!()
        }
        async fn sleep(&self, _: u64) {}
    }

    /// Against an implementation we did not write: the expected headers are botocore's
    /// for the same request (dynamo/tests/sigv4_known_answer.py).
    #[test]
    fn signs_as_botocore_does() {
        let noon = 1_795_521_600_000; // 2026-11-24T12:00:00Z
        let dynamo = Dynamo::new(
            At(noon),
            "https://dynamodb.eu-west-1.amazonaws.com",
            "eu-west-1",
            "vitrine",
        );
        let body =
            br#"{"TableName":"vitrine","Key":{"pk":{"S":"SITE#demo-shop"},"sk":{"S":"META"}}}"#;
        let credentials = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("session-token-example".into()),
        };
        let headers: std::collections::HashMap<_, _> = dynamo
            .signed_headers("GetItem", body, credentials)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(headers["x-amz-date"], "20261124T120000Z");
        assert_eq!(headers["x-amz-security-token"], "session-token-example");
        assert_eq!(
            headers["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/eu-west-1/dynamodb/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, \
             Signature=2942ee82be90331340d436115949c7895d92465b5efb642b0d7b28c1e9b8727c"
        );
    }

    #[test]
    fn throttling_and_server_errors_are_retried_conditions_and_bad_requests_are_not() {
        let body = |kind: &str| {
            format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"m"}}"#)
        };
        assert!(matches!(
            classify(
                400,
                body("ProvisionedThroughputExceededException").as_bytes()
            ),
            Failure::Transient(_)
        ));
        assert!(matches!(
            classify(400, body("ThrottlingException").as_bytes()),
            Failure::Transient(_)
        ));
        assert!(matches!(classify(503, b"<html>"), Failure::Transient(_)));
        assert!(matches!(
            classify(400, body("ConditionalCheckFailedException").as_bytes()),
            Failure::Condition
        ));
        assert!(matches!(
            classify(400, body("ValidationException").as_bytes()),
            Failure::Fatal(_)
        ));
        let canceled = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"m","CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed"}]}"#;
        assert!(matches!(
            classify(400, canceled.as_bytes()),
            Failure::Condition
        ));
    }

    #[test]
    fn items_map_to_native_attributes_and_back() {
        let item = Item::new(
            "P#1",
            "S#1",
            json!({"name": "Ada", "n": 3, "tags": ["a"], "ok": true, "none": null}),
        )
        .with_expiry(1_700_000_000);
        let map = to_attributes(&item).unwrap();
        assert_eq!(map["pk"], s("P#1"));
        assert_eq!(map["ttl"], AttributeValue::N("1700000000".into()));
        assert_eq!(map["n"], AttributeValue::N("3".into()));
        assert_eq!(map["ok"], AttributeValue::Bool(true));
        assert_eq!(
            serde_json::to_value(&map["name"]).unwrap(),
            json!({"S": "Ada"}),
            "the wire form DynamoDB's JSON protocol expects"
        );
        assert_eq!(from_attributes(map).unwrap(), item);
    }
}

//! The DynamoDB store: one table, `pk` (S) hash key, `sk` (S) range key, `ttl` (N, Unix
//! seconds) as the TTL attribute. Item attributes map to native DynamoDB types through
//! `serde_dynamo`, so the table stays readable in the AWS console.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType, Put,
    ReturnValue, ScalarAttributeType, Select, TimeToLiveSpecification, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use serde_json::{Map, Value};
use vitrine_core::store::{
    validate_attributes, validate_item, validate_key, validate_transaction, Condition, Item, Page,
    Query, Store, StoreError, StoreResult, Write,
};

use crate::now_secs;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn backend<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Backend(format!("dynamodb: {}", DisplayErrorContext(&e)))
}

/// A conditional write's outcome: a failed condition is `ConditionFailed`, not an outage.
fn conditional<O, E, R>(result: Result<O, SdkError<E, R>>) -> StoreResult<()>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().and_then(|se| se.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Err(StoreError::ConditionFailed)
        }
        Err(e) => Err(backend(e)),
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

impl DynamoStore {
    /// Uses the standard AWS configuration chain (env, profile, instance role). Pass an
    /// endpoint for a local DynamoDB-compatible server.
    pub async fn connect(table: impl Into<String>, endpoint: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        Self::with_client(Client::new(&config), table)
    }

    /// For a local DynamoDB-compatible server (tests, `--store dynamodb` locally): static
    /// dummy credentials and a fixed region, nothing read from the environment.
    pub async fn connect_local(endpoint: &str, table: impl Into<String>) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "static",
            ))
            .load()
            .await;
        Self::with_client(Client::new(&config), table)
    }

    pub fn with_client(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (and turns on TTL) if it does not exist. In the cloud the table
    /// comes from the infrastructure template; this is for local servers and tests.
    pub async fn ensure_table(&self) -> StoreResult<()> {
        let exists = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .is_ok();
        if exists {
            return Ok(());
        }
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("static key schema")
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("static attribute definition")
        };
        self.client
            .create_table()
            .table_name(&self.table)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(backend)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("ttl")
                    .enabled(true)
                    .build()
                    .expect("static ttl spec"),
            )
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn to_dynamo(item: &Item) -> StoreResult<HashMap<String, AttributeValue>> {
        let mut map: HashMap<String, AttributeValue> = serde_dynamo::to_item(&item.attrs)
            .map_err(|e| StoreError::Invalid(format!("item does not convert to DynamoDB: {e}")))?;
        map.insert("pk".into(), s(&item.pk));
        map.insert("sk".into(), s(&item.sk));
        if let Some(ttl) = item.expires_at {
            map.insert("ttl".into(), AttributeValue::N(ttl.to_string()));
        }
        Ok(map)
    }

    fn from_dynamo(mut map: HashMap<String, AttributeValue>) -> StoreResult<Item> {
        let take_s = |map: &mut HashMap<String, AttributeValue>, k: &str| match map.remove(k) {
            Some(AttributeValue::S(v)) => Ok(v),
            other => Err(StoreError::Corrupt(format!(
                "attribute {k} is not a string: {other:?}"
            ))),
        };
        let pk = take_s(&mut map, "pk")?;
        let sk = take_s(&mut map, "sk")?;
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
}

impl Store for DynamoStore {
    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        match out.item {
            Some(map) => {
                let item = Self::from_dynamo(map)?;
                Ok((!item.is_expired(now_secs())).then_some(item))
            }
            None => Ok(None),
        }
    }

    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        validate_item(&item)?;
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::to_dynamo(&item)?));
        if condition == Condition::NotExists {
            // An expired item that DynamoDB has not deleted yet counts as absent.
            req = req
                .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":now", AttributeValue::N(now_secs().to_string()));
        }
        conditional(req.send().await)
    }

    async fn update(&self, pk: &str, sk: &str, attrs: Map<String, Value>) -> StoreResult<()> {
        validate_key(pk, sk)?;
        validate_attributes(&attrs)?;
        if attrs.is_empty() {
            return Ok(());
        }
        let values: HashMap<String, AttributeValue> = serde_dynamo::to_item(&attrs)
            .map_err(|e| StoreError::Invalid(format!("attributes do not convert: {e}")))?;
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            // An update never creates an item, nor revives an expired one.
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#ttl) OR #ttl > :now)",
            )
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", AttributeValue::N(now_secs().to_string()));
        let mut sets = Vec::new();
        for (i, (name, value)) in values.into_iter().enumerate() {
            sets.push(format!("#a{i} = :v{i}"));
            req = req
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":v{i}"), value);
        }
        conditional(
            req.update_expression(format!("SET {}", sets.join(", ")))
                .send()
                .await,
        )
    }

    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        let mut items = Vec::with_capacity(writes.len());
        for write in &writes {
            let item = match write {
                Write::Put { item, condition } => {
                    let mut put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(Self::to_dynamo(item)?));
                    if *condition == Condition::NotExists {
                        put = put
                            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
                            .expression_attribute_names("#ttl", "ttl")
                            .expression_attribute_values(
                                ":now",
                                AttributeValue::N(now_secs().to_string()),
                            );
                    }
                    TransactWriteItem::builder()
                        .put(
                            put.build()
                                .map_err(|e| StoreError::Invalid(e.to_string()))?,
                        )
                        .build()
                }
                Write::Delete { pk, sk } => TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .key("pk", s(pk))
                            .key("sk", s(sk))
                            .build()
                            .map_err(|e| StoreError::Invalid(e.to_string()))?,
                    )
                    .build(),
            };
            items.push(item);
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let failed_condition = match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => {
                        canceled
                            .cancellation_reasons()
                            .iter()
                            .any(|r| r.code() == Some("ConditionalCheckFailed"))
                    }
                    _ => false,
                };
                if failed_condition {
                    Err(StoreError::ConditionFailed)
                } else {
                    Err(backend(e))
                }
            }
        }
    }

    async fn incr(&self, pk: &str, sk: &str, expires_at: u64) -> StoreResult<u64> {
        validate_key(pk, sk)?;
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            // An expired counter DynamoDB has not deleted yet starts again (below).
            .condition_expression("attribute_not_exists(#ttl) OR #ttl > :now")
            .update_expression(
                "SET #n = if_not_exists(#n, :zero) + :one, #ttl = if_not_exists(#ttl, :exp)",
            )
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", AttributeValue::N(now_secs().to_string()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match counted {
            Ok(out) => match out.attributes.and_then(|mut a| a.remove("n")) {
                Some(AttributeValue::N(n)) => n
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("counter {pk}/{sk}: {n}"))),
                other => Err(StoreError::Corrupt(format!("counter {pk}/{sk}: {other:?}"))),
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                let fresh =
                    Item::new(pk, sk, serde_json::json!({ "n": 1 })).with_expiry(expires_at);
                self.put(fresh, Condition::Always).await?;
                Ok(1)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn delete(&self, pk: &str, sk: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(!query.descending)
            .limit(query.limit.max(1) as i32)
            .filter_expression("attribute_not_exists(#ttl) OR #ttl > :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", AttributeValue::N(now_secs().to_string()))
            .expression_attribute_values(":pk", s(&query.pk));
        req = if query.sk_prefix.is_empty() {
            req.key_condition_expression("pk = :pk")
        } else {
            req.key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(&query.sk_prefix))
        };
        if let Some(cursor) = &query.start_after {
            req = req
                .exclusive_start_key("pk", s(&query.pk))
                .exclusive_start_key("sk", s(cursor));
        }
        let out = req.send().await.map_err(backend)?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Self::from_dynamo)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = out
            .last_evaluated_key
            .and_then(|mut key| match key.remove("sk") {
                Some(AttributeValue::S(sk)) => Some(sk),
                _ => None,
            });
        Ok(Page { items, next })
    }

    async fn count(&self, pk: &str, sk_prefix: &str) -> StoreResult<u64> {
        let mut total = 0u64;
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .select(Select::Count)
                .consistent_read(true)
                .filter_expression("attribute_not_exists(#ttl) OR #ttl > :now")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":now", AttributeValue::N(now_secs().to_string()))
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start.take());
            req = if sk_prefix.is_empty() {
                req.key_condition_expression("pk = :pk")
            } else {
                req.key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(sk_prefix))
            };
            let out = req.send().await.map_err(backend)?;
            total += out.count as u64;
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(total),
            }
        }
    }
}

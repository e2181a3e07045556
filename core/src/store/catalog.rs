//! What admins prepare for agents (A3): offers, canned responses and the product catalogue,
//! per account.
//!
//! | pk                     | sk                   | what                |
//! |------------------------|----------------------|---------------------|
//! | `ACCOUNT#{account_id}` | `OFFER#{id}`         | an offer (C6)       |
//! | `ACCOUNT#{account_id}` | `CANNED#{id}`        | a canned response (C7) |
//! | `ACCOUNT#{account_id}` | `PRODUCT#{id}`       | a catalogue product (C6) |

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use ts_rs::TS;

use super::{Condition, Item, LocalStore, Query, StoreError, StoreResult};
use crate::codec::{self, FrameError};
use crate::protocol::MessageBody;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    #[serde(default)]
    pub offer_id: String,
    pub title: String,
    pub text: String,
    #[serde(default)]
    pub image_url: Option<String>,
    pub link_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CannedResponse {
    #[serde(default)]
    pub canned_id: String,
    /// What the agent types after "/" to find it.
    pub shortcut: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Product {
    #[serde(default)]
    pub product_id: String,
    pub name: String,
    #[serde(default)]
    pub brand: String,
    #[serde(default)]
    pub category: String,
    /// Display price with its currency, as the shop shows it ("49.00 €").
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub image_url: Option<String>,
    pub url: String,
}

/// An item kind admins manage. `validate` checks what an admin typed or imported.
pub trait CatalogItem: Serialize + DeserializeOwned + Clone {
    const PREFIX: &'static str;
    fn id(&self) -> &str;
    fn set_id(&mut self, id: String);
    fn validate(&self) -> Result<(), FrameError>;
}

impl CatalogItem for Offer {
    const PREFIX: &'static str = "OFFER#";
    fn id(&self) -> &str {
        &self.offer_id
    }
    fn set_id(&mut self, id: String) {
        self.offer_id = id;
    }
    fn validate(&self) -> Result<(), FrameError> {
        codec::validate_body(&self.message_body())
    }
}

impl Offer {
    pub fn message_body(&self) -> MessageBody {
        MessageBody::Offer {
            title: self.title.clone(),
            text: self.text.clone(),
            image_url: self.image_url.clone().filter(|u| !u.is_empty()),
            link_url: self.link_url.clone(),
        }
    }
}

impl CatalogItem for CannedResponse {
    const PREFIX: &'static str = "CANNED#";
    fn id(&self) -> &str {
        &self.canned_id
    }
    fn set_id(&mut self, id: String) {
        self.canned_id = id;
    }
    fn validate(&self) -> Result<(), FrameError> {
        codec::validate_text("shortcut", &self.shortcut, 40)?;
        codec::validate_text("text", &self.text, crate::protocol::MAX_MESSAGE_CHARS)
    }
}

impl CatalogItem for Product {
    const PREFIX: &'static str = "PRODUCT#";
    fn id(&self) -> &str {
        &self.product_id
    }
    fn set_id(&mut self, id: String) {
        self.product_id = id;
    }
    fn validate(&self) -> Result<(), FrameError> {
        codec::validate_length("category", &self.category, 120)?;
        codec::validate_body(&self.message_body())
    }
}

impl Product {
    pub fn message_body(&self) -> MessageBody {
        MessageBody::Product {
            name: self.name.clone(),
            brand: self.brand.clone(),
            price: self.price.clone(),
            image_url: self.image_url.clone().filter(|u| !u.is_empty()),
            url: self.url.clone(),
        }
    }
}

fn account_pk(account_id: &str) -> String {
    format!("ACCOUNT#{account_id}")
}

/// IDs admins may choose (imports) or that are generated: the wire ID alphabet, from 1
/// character (imported catalogues often use short SKUs).
pub fn validate_item_id(id: &str) -> Result<(), FrameError> {
    codec::validate_id_length("id", id, 1)
}

pub async fn put_item<S: LocalStore + ?Sized, T: CatalogItem>(
    store: &S,
    account_id: &str,
    item: &T,
) -> StoreResult<()> {
    let attrs = serde_json::to_value(item).map_err(|e| StoreError::Invalid(e.to_string()))?;
    store
        .put(
            Item::new(
                account_pk(account_id),
                format!("{}{}", T::PREFIX, item.id()),
                attrs,
            ),
            Condition::Always,
        )
        .await
}

pub async fn delete_item<S: LocalStore + ?Sized, T: CatalogItem>(
    store: &S,
    account_id: &str,
    id: &str,
) -> StoreResult<bool> {
    let pk = account_pk(account_id);
    let sk = format!("{}{id}", T::PREFIX);
    let existed = store.get(&pk, &sk).await?.is_some();
    store.delete(&pk, &sk).await?;
    Ok(existed)
}

/// Every item of a kind (catalogues are small: at most 10,000 products are read).
pub async fn list_items<S: LocalStore + ?Sized, T: CatalogItem>(
    store: &S,
    account_id: &str,
) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::prefix(account_pk(account_id), T::PREFIX)
                    .after(cursor)
                    .limit(1000),
            )
            .await?;
        for item in &page.items {
            out.push(item.decode()?);
        }
        match page.next {
            Some(next) if out.len() < 10_000 => cursor = Some(next),
            _ => return Ok(out),
        }
    }
}

/// Product gallery search (C6): name contains `q`, brand and category match exactly.
pub fn search_products<'a>(
    products: &'a [Product],
    q: &str,
    brand: Option<&str>,
    category: Option<&str>,
) -> Vec<&'a Product> {
    let q = q.trim().to_lowercase();
    products
        .iter()
        .filter(|p| q.is_empty() || p.name.to_lowercase().contains(&q))
        .filter(|p| brand.is_none_or(|b| b.is_empty() || p.brand.eq_ignore_ascii_case(b)))
        .filter(|p| category.is_none_or(|c| c.is_empty() || p.category.eq_ignore_ascii_case(c)))
        .collect()
}

/// Parses a catalogue file: a JSON array of products, or CSV with a header row naming
/// the columns (`id,name,brand,category,price,image_url,url`; `id` optional). Every row
/// is checked; the first bad one is reported with its row number and nothing is imported.
pub fn parse_catalogue(content: &str) -> Result<Vec<Product>, String> {
    let trimmed = content.trim_start_matches('\u{feff}').trim();
    let products: Vec<Product> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| format!("not a JSON array of products: {e}"))?
    } else {
        parse_csv(trimmed)?
    };
    if products.is_empty() {
        return Err("the file has no products".into());
    }
    for (i, p) in products.iter().enumerate() {
        if !p.product_id.is_empty() {
            validate_item_id(&p.product_id)
                .map_err(|e| format!("product {}: {}", i + 1, e.message))?;
        }
        p.validate()
            .map_err(|e| format!("product {} ({}): {}", i + 1, p.name, e.message))?;
    }
    Ok(products)
}

fn parse_csv(content: &str) -> Result<Vec<Product>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(content.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("bad CSV header: {e}"))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(name_col), Some(url_col)) = (col("name"), col("url")) else {
        return Err("the CSV header must name at least the columns `name` and `url`".into());
    };
    let mut products = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}", i + 2))?;
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_string();
        let image = get(col("image_url"));
        products.push(Product {
            product_id: get(col("id")),
            name: get(Some(name_col)),
            brand: get(col("brand")),
            category: get(col("category")),
            price: get(col("price")),
            image_url: (!image.is_empty()).then_some(image),
            url: get(Some(url_col)),
        });
    }
    Ok(products)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_catalogues_parse_and_bad_rows_are_named() {
        let csv = "id,name,brand,category,price,image_url,url\n\
                   lamp-1,\"Lamp, brass\",Lumo,Lighting,49.00 €,,https://shop.example/lamp\n";
        let products = parse_catalogue(csv).unwrap();
        assert_eq!(products[0].name, "Lamp, brass");
        assert_eq!(products[0].image_url, None);
        let json = r#"[{"name":"Chair","url":"https://shop.example/chair","brand":"Sit"}]"#;
        assert_eq!(parse_catalogue(json).unwrap()[0].brand, "Sit");
        let bad = "name,url\nOk,https://a.example/x\nEvil,javascript:alert(1)\n";
        let err = parse_catalogue(bad).unwrap_err();
        assert!(err.contains("product 2"), "{err}");
        assert!(parse_catalogue("foo,bar\n1,2")
            .unwrap_err()
            .contains("name"));
    }

    #[test]
    fn gallery_search_filters_by_name_brand_and_category() {
        let p = |name: &str, brand: &str, category: &str| Product {
            product_id: name.into(),
            name: name.into(),
            brand: brand.into(),
            category: category.into(),
            price: String::new(),
            image_url: None,
            url: "https://shop.example/x".into(),
        };
        let all = vec![
            p("Brass lamp", "Lumo", "Lighting"),
            p("Oak chair", "Sit", "Furniture"),
            p("Desk lamp", "Sit", "Lighting"),
        ];
        let names = |v: Vec<&Product>| v.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(search_products(&all, "LAMP", None, None)),
            ["Brass lamp", "Desk lamp"]
        );
        assert_eq!(
            names(search_products(&all, "lamp", Some("sit"), None)),
            ["Desk lamp"]
        );
        assert_eq!(
            names(search_products(&all, "", None, Some("Furniture"))),
            ["Oak chair"]
        );
    }
}

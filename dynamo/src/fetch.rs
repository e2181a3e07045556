//! The Worker's transport: `fetch` (workers-rs), the wall clock from `Date.now()` (wasm32
//! has no `SystemTime`), credentials from the Worker's secrets, waits with `setTimeout`.

use std::time::Duration;

use serde_json::{Map, Value};
use vitrine_core::store::{Condition, Item, LocalStore, Page, Query, StoreResult, Write};
use worker::{Date, Delay, Fetch, Headers, Method, Request, RequestInit};

use crate::{Credentials, Dynamo, Transport};

pub struct Fetcher {
    credentials: Credentials,
}

impl Fetcher {
    pub fn new(credentials: Credentials) -> Self {
        Self { credentials }
    }
}

/// A store on DynamoDB for a Durable Object (futures are not `Send` in wasm32).
pub type EdgeStore = Dynamo<Fetcher>;

impl Transport for Fetcher {
    fn now_ms(&self) -> u64 {
        Date::now().as_millis()
    }

    async fn credentials(&self) -> Result<Credentials, String> {
        Ok(self.credentials.clone())
    }

    async fn post(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        let fetch_headers = Headers::new();
        for (name, value) in &headers {
            fetch_headers
                .set(name, value)
                .map_err(|e| format!("header {name}: {e}"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(fetch_headers)
            .with_body(Some(js_body(&body)));
        let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
        let mut response = Fetch::Request(request)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status_code();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        Ok((status, bytes))
    }

    async fn sleep(&self, ms: u64) {
        Delay::from(Duration::from_millis(ms)).await
    }
}

fn js_body(body: &[u8]) -> worker::wasm_bindgen::JsValue {
    worker::js_sys::Uint8Array::from(body).into()
}

store_for!(LocalStore, Fetcher);

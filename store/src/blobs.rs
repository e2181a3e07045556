//! [`BlobStore`] implementations: a local directory (the embedded default) and S3 (the
//! cloud, or any S3-compatible server). The rules (size, sniffed type, IDs) are core's
//! (`vitrine_core::store::blobs`); these only keep bytes and a content type.

use std::path::PathBuf;

use aws_sdk_s3::primitives::ByteStream;
use vitrine_core::store::blobs::{Blob, BlobError, BlobStore};

/// Blobs as files: `{dir}/{id}` and `{dir}/{id}.type`.
#[derive(Clone, Debug)]
pub struct LocalBlobs {
    dir: PathBuf,
}

impl LocalBlobs {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

fn io(e: std::io::Error) -> BlobError {
    BlobError::Backend(e.to_string())
}

impl BlobStore for LocalBlobs {
    async fn put(&self, id: &str, blob: Blob) -> Result<(), BlobError> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        tokio::fs::write(self.dir.join(format!("{id}.type")), blob.content_type)
            .await
            .map_err(io)?;
        tokio::fs::write(self.dir.join(id), blob.bytes)
            .await
            .map_err(io)
    }

    async fn get(&self, id: &str) -> Result<Option<Blob>, BlobError> {
        match tokio::fs::read(self.dir.join(id)).await {
            Ok(bytes) => {
                let content_type = tokio::fs::read_to_string(self.dir.join(format!("{id}.type")))
                    .await
                    .unwrap_or_else(|_| "application/octet-stream".into());
                Ok(Some(Blob {
                    bytes,
                    content_type,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }
}

/// Blobs in an S3 bucket, one object per blob under `prefix`, its type as the object's
/// `Content-Type`.
#[derive(Clone, Debug)]
pub struct S3Blobs {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Blobs {
    /// Uses the standard AWS configuration chain (env, profile, instance or Lambda role).
    pub async fn connect(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Self::with_client(aws_sdk_s3::Client::new(&config), bucket, prefix)
    }

    /// For an S3-compatible server (tests): static credentials, path-style addressing.
    pub async fn connect_local(endpoint: &str, bucket: impl Into<String>) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "local", "local", None, None, "static",
            ))
            .load()
            .await;
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build();
        Self::with_client(aws_sdk_s3::Client::from_conf(s3), bucket, "")
    }

    pub fn with_client(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    /// Creates the bucket if it does not exist (local servers and tests; in the cloud the
    /// bucket comes from the infrastructure template).
    pub async fn ensure_bucket(&self) -> Result<(), BlobError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }
}

fn backend<E: std::error::Error + 'static>(e: E) -> BlobError {
    BlobError::Backend(format!(
        "s3: {}",
        aws_sdk_s3::error::DisplayErrorContext(&e)
    ))
}

impl BlobStore for S3Blobs {
    async fn put(&self, id: &str, blob: Blob) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(id))
            .content_type(blob.content_type)
            .body(ByteStream::from(blob.bytes))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Blob>, BlobError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(id))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
                return Ok(None)
            }
            Err(e) => return Err(backend(e)),
        };
        let content_type = out
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        let bytes = out.body.collect().await.map_err(backend)?.into_bytes();
        Ok(Some(Blob {
            bytes: bytes.to_vec(),
            content_type,
        }))
    }
}

/// One of the blob stores, chosen by configuration.
#[derive(Clone, Debug)]
pub enum AnyBlobs {
    Local(LocalBlobs),
    S3(S3Blobs),
}

impl BlobStore for AnyBlobs {
    async fn put(&self, id: &str, blob: Blob) -> Result<(), BlobError> {
        match self {
            AnyBlobs::Local(b) => b.put(id, blob).await,
            AnyBlobs::S3(b) => b.put(id, blob).await,
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Blob>, BlobError> {
        match self {
            AnyBlobs::Local(b) => b.get(id).await,
            AnyBlobs::S3(b) => b.get(id).await,
        }
    }
}

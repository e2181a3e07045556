//! Where chat images live: a local directory by default (the cloud deployment would put an
//! S3 bucket behind the same two calls). A blob is immutable and named by a random ID;
//! its content type is checked from its first bytes, never taken from the uploader.

use std::path::PathBuf;

/// Largest image an agent may upload.
pub const MAX_BLOB_BYTES: usize = 5 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct LocalBlobs {
    dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the file is larger than {} MB", MAX_BLOB_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("only PNG, JPEG, GIF and WebP images are accepted")]
    UnsupportedType,
    #[error("blob storage failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The image type of `bytes`, by magic number.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

impl LocalBlobs {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Stores an image and returns its new ID (32 hex characters).
    pub async fn put_image(&self, bytes: &[u8]) -> Result<String, BlobError> {
        if bytes.len() > MAX_BLOB_BYTES {
            return Err(BlobError::TooLarge);
        }
        let content_type = sniff_image(bytes).ok_or(BlobError::UnsupportedType)?;
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).expect("the OS has a random source");
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        tokio::fs::create_dir_all(&self.dir).await?;
        tokio::fs::write(self.dir.join(format!("{id}.type")), content_type).await?;
        tokio::fs::write(self.dir.join(&id), bytes).await?;
        Ok(id)
    }

    /// The blob and its content type; `None` if there is none (or the ID is malformed).
    pub async fn get(&self, id: &str) -> Result<Option<(Vec<u8>, String)>, BlobError> {
        if vitrine_core::codec::validate_blob_id(id).is_err() {
            return Ok(None);
        }
        match tokio::fs::read(self.dir.join(id)).await {
            Ok(bytes) => {
                let content_type = tokio::fs::read_to_string(self.dir.join(format!("{id}.type")))
                    .await
                    .unwrap_or_else(|_| "application/octet-stream".into());
                Ok(Some((bytes, content_type)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

//! Chat images (C6): immutable blobs named by a random ID, beside the table. The rules —
//! what may be stored, how big, what type — are here once; where the bytes go is a
//! [`BlobStore`]: a local directory, S3 (both in `vitrine-store`), or R2 at the edge.
//!
//! A blob's content type is taken from its first bytes, never from the uploader.

/// Largest image an agent may upload.
pub const MAX_BLOB_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("the file is larger than {} MB", MAX_BLOB_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("only PNG, JPEG, GIF and WebP images are accepted")]
    UnsupportedType,
    #[error("blob storage failed: {0}")]
    Backend(String),
}

/// Where blobs live. Implementations must pass [`blob_contract`]. Like [`super::Store`],
/// it comes as `LocalBlobStore` (futures need not be `Send`) and `BlobStore`.
#[trait_variant::make(BlobStore: Send)]
pub trait LocalBlobStore {
    /// Stores a new blob. IDs are random, so an existing ID is never overwritten.
    async fn put(&self, id: &str, blob: Blob) -> Result<(), BlobError>;
    /// The blob, or `None` if there is none with this ID.
    async fn get(&self, id: &str) -> Result<Option<Blob>, BlobError>;
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

/// A blob ID from 16 random bytes the caller draws (the core has no randomness of its
/// own, as it has no clock): 32 lowercase hex characters.
pub fn blob_id(random: [u8; 16]) -> String {
    random.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks an uploaded image and stores it under `blob_id(random)`; returns the ID.
pub async fn store_image<B: LocalBlobStore + ?Sized>(
    blobs: &B,
    bytes: Vec<u8>,
    random: [u8; 16],
) -> Result<String, BlobError> {
    if bytes.len() > MAX_BLOB_BYTES {
        return Err(BlobError::TooLarge);
    }
    let content_type = sniff_image(&bytes).ok_or(BlobError::UnsupportedType)?;
    let id = blob_id(random);
    blobs
        .put(
            &id,
            Blob {
                bytes,
                content_type: content_type.into(),
            },
        )
        .await?;
    Ok(id)
}

/// An image by ID; malformed IDs are simply not found (they never reach the backend).
pub async fn image<B: LocalBlobStore + ?Sized>(
    blobs: &B,
    id: &str,
) -> Result<Option<Blob>, BlobError> {
    if crate::codec::validate_blob_id(id).is_err() {
        return Ok(None);
    }
    blobs.get(id).await
}

/// What every [`BlobStore`] must do; run with [`blob_contract_tests!`](crate::blob_contract_tests).
pub mod blob_contract {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n0123456789";

    pub async fn images_round_trip_with_their_sniffed_type<B: LocalBlobStore>(b: &B) {
        let id = store_image(b, PNG.to_vec(), [7; 16]).await.unwrap();
        assert_eq!(id, "07".repeat(16));
        assert_eq!(
            image(b, &id).await.unwrap(),
            Some(Blob {
                bytes: PNG.to_vec(),
                content_type: "image/png".into()
            })
        );
        assert_eq!(image(b, &"08".repeat(16)).await.unwrap(), None);
    }

    pub async fn bad_images_and_ids_are_refused<B: LocalBlobStore>(b: &B) {
        assert_eq!(
            store_image(b, b"<svg onload=alert(1)>".to_vec(), [1; 16]).await,
            Err(BlobError::UnsupportedType)
        );
        let mut huge = PNG.to_vec();
        huge.resize(MAX_BLOB_BYTES + 1, 0);
        assert_eq!(
            store_image(b, huge, [2; 16]).await,
            Err(BlobError::TooLarge)
        );
        assert_eq!(
            image(b, &"01".repeat(16)).await.unwrap(),
            None,
            "nothing stored"
        );
        for bad in ["../etc/passwd", "", "ZZ", &"0".repeat(33)] {
            assert_eq!(image(b, bad).await.unwrap(), None, "{bad:?}");
        }
    }
}

/// Expands to one `#[tokio::test]` per blob contract case; `$make` yields a fresh store.
#[macro_export]
macro_rules! blob_contract_tests {
    ($make:expr) => {
        $crate::blob_contract_tests!(@cases $make;
            images_round_trip_with_their_sniffed_type, bad_images_and_ids_are_refused);
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let blobs = $make.await;
                $crate::store::blobs::blob_contract::$case(&blobs).await;
            }
        )*
    };
}

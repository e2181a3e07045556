//! The blob contract against a directory and against a real S3-compatible server (moto's
//! server mode, which `cargo xtask test` starts and names in VITRINE_S3_ENDPOINT).

use vitrine_store::{LocalBlobs, S3Blobs};

mod directory {
    use super::*;
    vitrine_core::blob_contract_tests!(async {
        LocalBlobs::new(
            std::env::temp_dir().join(format!("vitrine-blobs-{}", uuid::Uuid::new_v4())),
        )
    });
}

mod s3 {
    use super::*;

    async fn fresh_bucket() -> S3Blobs {
        let endpoint = std::env::var("VITRINE_S3_ENDPOINT").expect(
            "VITRINE_S3_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts an S3-compatible server",
        );
        let blobs =
            S3Blobs::connect_local(&endpoint, format!("blobs-{}", uuid::Uuid::new_v4())).await;
        blobs.ensure_bucket().await.expect("create the bucket");
        blobs
    }

    vitrine_core::blob_contract_tests!(fresh_bucket());
}

//! Identity verification (K1): a shop proves who its signed-in customer is by signing the
//! customer's ID with the site's identity secret — hex HMAC-SHA256 of the ID, as Intercom
//! and Chatwoot do, so a shop's backend needs one line of any language's standard library.
//! Without it anyone could call `Vitrine.identify({id: "42"})` and read customer 42's card.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature a shop's backend makes for `user_id` (what `Vitrine.identify` carries).
pub fn sign(secret: &str, user_id: &str) -> String {
    hex::encode(mac(secret, user_id).finalize().into_bytes())
}

/// Whether `signature` is `user_id` signed with `secret` (constant time; case-insensitive hex).
pub fn verify(secret: &str, user_id: &str, signature: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    match hex::decode(signature.trim()) {
        Ok(bytes) => mac(secret, user_id).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

fn mac(secret: &str, user_id: &str) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(user_id.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_for_its_id_and_secret_only() {
        let signature = sign("s3cret", "customer-42");
        assert!(verify("s3cret", "customer-42", &signature));
        assert!(verify("s3cret", "customer-42", &signature.to_uppercase()));
        assert!(!verify("s3cret", "customer-43", &signature));
        assert!(!verify("other", "customer-42", &signature));
        assert!(!verify("", "customer-42", &sign("", "customer-42")));
        assert!(!verify("s3cret", "customer-42", "not hex"));
    }

    #[test]
    fn the_signature_is_the_standard_hex_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

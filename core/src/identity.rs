//! Identity verification (K1): a shop proves who its signed-in customer is by signing what
//! it says about them with the site's identity secret — hex HMAC-SHA256, as Intercom and
//! Chatwoot do, so a shop's backend needs one line of any language's standard library.
//! Without it anyone could call `Vitrine.identify({id: "42"})` and read customer 42's card.
//!
//! What is signed is every field the card trusts, one per line: `id`, `name`, `email`,
//! `phone`, `address` (an absent field is an empty line; no field may hold a line break,
//! so the lines cannot be read two ways). A signature of the ID alone (the older form)
//! still proves the ID, but then the other fields are the visitor's own words: the card
//! takes none of them.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::protocol::Identity;

/// The signature a shop's backend makes for an identity (what `Vitrine.identify` carries).
pub fn sign(secret: &str, identity: &Identity) -> String {
    hex::encode(mac(secret, &signed_text(identity)).finalize().into_bytes())
}

/// The older signature, of the ID alone.
pub fn sign_id(secret: &str, user_id: &str) -> String {
    hex::encode(mac(secret, user_id).finalize().into_bytes())
}

/// What an identity's signature is computed over.
pub fn signed_text(identity: &Identity) -> String {
    let field = |f: &Option<String>| f.clone().unwrap_or_default();
    [
        identity.id.clone(),
        field(&identity.name),
        field(&identity.email),
        field(&identity.phone),
        field(&identity.address),
    ]
    .join("\n")
}

/// How much of an identity a signature proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proven {
    /// Every field.
    All,
    /// The ID only (a signature of the ID alone).
    Id,
    Nothing,
}

/// What `signature` proves of `identity` under `secret` (constant time; case-insensitive hex).
pub fn verify(secret: &str, identity: &Identity, signature: &str) -> Proven {
    let Ok(bytes) = hex::decode(signature.trim()) else {
        return Proven::Nothing;
    };
    if secret.is_empty() {
        Proven::Nothing
    } else if mac(secret, &signed_text(identity))
        .verify_slice(&bytes)
        .is_ok()
    {
        Proven::All
    } else if mac(secret, &identity.id).verify_slice(&bytes).is_ok() {
        Proven::Id
    } else {
        Proven::Nothing
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

    fn zofia(id: &str) -> Identity {
        Identity {
            id: id.into(),
            name: Some("Zofia".into()),
            email: Some("zofia@mail.example".into()),
            ..Identity::default()
        }
    }

    #[test]
    fn a_signature_proves_what_it_signed_for_its_secret_only() {
        let signature = sign("s3cret", &zofia("customer-42"));
        assert_eq!(
            verify("s3cret", &zofia("customer-42"), &signature),
            Proven::All
        );
        assert_eq!(
            verify("s3cret", &zofia("customer-42"), &signature.to_uppercase()),
            Proven::All
        );
        assert_eq!(
            verify("s3cret", &zofia("customer-43"), &signature),
            Proven::Nothing
        );
        assert_eq!(
            verify("other", &zofia("customer-42"), &signature),
            Proven::Nothing
        );
        assert_eq!(
            verify("", &zofia("x"), &sign("", &zofia("x"))),
            Proven::Nothing
        );
        assert_eq!(
            verify("s3cret", &zofia("customer-42"), "not hex"),
            Proven::Nothing
        );
        // Another customer's name and e-mail under a valid signature: not proven.
        let other = Identity {
            email: Some("someone@else.example".into()),
            ..zofia("customer-42")
        };
        assert_eq!(verify("s3cret", &other, &signature), Proven::Nothing);
        // The ID alone signed: the ID is proven, the rest is not.
        let id_only = sign_id("s3cret", "customer-42");
        assert_eq!(verify("s3cret", &other, &id_only), Proven::Id);
    }

    #[test]
    fn the_signature_is_the_standard_hex_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign_id("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

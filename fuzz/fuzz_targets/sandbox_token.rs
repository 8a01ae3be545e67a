//! The sandbox token parser and verifier: never panic, and a token verifies only when it is
//! exactly the token the key signs for its claims (no second spelling of a valid token).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandbox_token::{TokenKey, from_authorization, parse};

fuzz_target!(|input: &str| {
    let key = TokenKey::from_bytes(&[7u8; 32]).expect("32 bytes");
    let token = from_authorization(input).unwrap_or(input);
    let parsed = parse(token);
    if let Ok(claims) = key.verify_signature(token) {
        assert_eq!(parsed.as_ref(), Ok(&claims));
        assert_eq!(key.sign(&claims.sandbox_id, claims.expires_at), token, "{input:?}");
    }
    if let Ok(claims) = parsed {
        assert!(!claims.sandbox_id.is_empty() && !claims.sandbox_id.contains('.'));
        // Signing what it claims and verifying that succeeds (the round trip of the real issuer).
        let signed = key.sign(&claims.sandbox_id, claims.expires_at);
        let now = claims.expires_at.saturating_sub(1);
        assert_eq!(key.verify(&signed, &claims.sandbox_id, now), Ok(claims));
    }
    let _ = TokenKey::from_hex(input);
});

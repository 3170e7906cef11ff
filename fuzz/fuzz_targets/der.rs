//! DER <-> JOSE ECDSA signature conversion: no panic; strict DER round-trips exactly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tokenmint::jwt::der::{ecdsa_der_to_jose, ecdsa_jose_to_der};

fuzz_target!(|data: &[u8]| {
    if let Some(jose) = ecdsa_der_to_jose(data, 32) {
        assert_eq!(ecdsa_jose_to_der(&jose).as_deref(), Some(data));
    }
    let _ = ecdsa_jose_to_der(data);
});

//! The JWT parser on arbitrary strings, under both header rules: no panic, and nothing that
//! parses carries a refused header.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tokenmint::jwt::verify;

fuzz_target!(|s: &str| {
    if let Ok(u) = verify::parse(s) {
        let _ = u.unverified_issuer();
        assert_eq!(u.kid().len(), 43);
    }
    if let Ok(u) = verify::parse_with(s, |_| true) {
        let _ = u.unverified_issuer();
    }
});

//! Scope parsing: no panic; a parsed set prints and parses back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tokenmint::domain::ScopeSet;

fuzz_target!(|s: &str| {
    if let Ok(set) = ScopeSet::parse(s) {
        assert_eq!(ScopeSet::parse(&set.to_string()).ok(), Some(set));
    }
});

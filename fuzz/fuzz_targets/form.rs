//! The form parser on arbitrary bodies: no panic; what parses, reads back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tokenmint::oauth::form::Form;

fuzz_target!(|data: &[u8]| {
    if let Ok(form) = Form::parse(data) {
        for (k, v) in form.pairs() {
            assert!(!k.is_empty() || v.is_empty() || form.get(k).is_some());
        }
    }
});

//! Client credentials from an arbitrary form body and `Authorization` header: no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tokenmint::oauth::client_auth::credentials;
use tokenmint::oauth::form::Form;

fuzz_target!(|input: (&[u8], &str)| {
    let (body, header) = input;
    if let Ok(form) = Form::parse(body) {
        let _ = credentials(&form, Some(header));
        let _ = credentials(&form, None);
    }
});

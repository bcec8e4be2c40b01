//! Utf8Validator fed in pieces agrees with std::str::from_utf8 on the whole input.
//!
//! Input layout: [0] k = number of cut points (k % 16), then k bytes: piece
//! lengths (0 = an empty piece); the rest of the input is the last piece.
//!
//! Invariants: the validator's verdict equals std's and utf8::is_valid's; it fails
//! exactly at the first piece whose end makes the prefix impossible to complete
//! (fail fast, no false alarm), and `finish` is needed for a truncated tail.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lws_proto::protocol::utf8::{is_valid, Utf8Validator};

/// Can `prefix` still be the start of valid UTF-8?
fn may_complete(prefix: &[u8]) -> bool {
    match std::str::from_utf8(prefix) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&k, rest)) = input.split_first() else { return };
    let k = (k % 16) as usize;
    let Some(lens) = rest.get(..k) else { return };
    let data = &rest[k..];
    let expected = std::str::from_utf8(data).is_ok();
    assert_eq!(is_valid(data), expected, "is_valid disagrees with std");

    let mut v = Utf8Validator::new();
    let mut at: usize = 0;
    let mut ok = true;
    let ends = lens.iter().map(|&l| l as usize).chain(std::iter::once(usize::MAX));
    for len in ends {
        let end = at.saturating_add(len).min(data.len());
        let fed = v.feed(&data[at..end]);
        assert_eq!(fed, may_complete(&data[..end]), "feed verdict wrong at {at}..{end} of {data:?}");
        at = end;
        if !fed {
            ok = false;
            break;
        }
    }
    if ok {
        ok = v.finish();
    }
    assert_eq!(ok, expected, "validator {ok} vs std {expected} for {data:?}");
});

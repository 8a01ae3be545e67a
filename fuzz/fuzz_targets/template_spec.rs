//! `POST /v1/templates/build` bodies: parsing and checking never panic, and the Dockerfile of an
//! accepted spec has one instruction per line, each one Warren writes (nothing a value injects).
#![no_main]

use template_spec::BuildRequest;
use libfuzzer_sys::fuzz_target;

const INSTRUCTIONS: &[&str] = &[
    "FROM ", "ARG ", "RUN ", "COPY ", "ENV ", "WORKDIR ", "USER ", "CMD ",
];

fuzz_target!(|body: &[u8]| {
    let Ok(request) = serde_json::from_slice::<BuildRequest>(body) else {
        return;
    };
    let Ok((spec, _credentials)) = request.check() else {
        return;
    };
    let dockerfile = spec.dockerfile();
    for line in dockerfile.lines() {
        assert!(
            INSTRUCTIONS.iter().any(|i| line.starts_with(i)),
            "line {line:?} of\n{dockerfile}\nfrom {:?}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(
        dockerfile
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("FROM "))
    );
    let _ = spec.files_hashes();
    let _ = spec.cache_busters("nonce");
});

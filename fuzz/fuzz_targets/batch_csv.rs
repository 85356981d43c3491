#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ivcrush_fuzzing::batch_csv(data));

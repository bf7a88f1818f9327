#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lamina_fuzz::tcp_sack::fuzz(data));

#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| lamina_fuzz::icmp_policy::fuzz(data));

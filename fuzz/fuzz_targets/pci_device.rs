#![no_main]
// The harness lives in lamina-drivers-pci (`hostile`, next to the device
// models it drives), which compiles it only for its own tests and for
// fuzzing builds (`cfg(fuzzing)`, set by cargo-fuzz): a plain build of this
// binary has nothing to run. Its seeds replay in that crate's tests.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    #[cfg(fuzzing)]
    let _ = lamina_drivers_pci::hostile::run(data);
    #[cfg(not(fuzzing))]
    let _ = data;
});

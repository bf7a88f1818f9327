//! Replays every committed seed of every fuzz target on stable, so CI
//! exercises the corpora without a fuzzer.

use std::path::Path;

#[test]
fn replay_seed_corpora() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut total = 0;
    for (name, target) in lamina_fuzz::TARGETS {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("seed corpus {} missing: {e}", dir.display()));
        let mut n = 0;
        for entry in entries {
            let path = entry.expect("readable corpus entry").path();
            if path.is_file() {
                let data = std::fs::read(&path).expect("readable seed");
                target(&data);
                n += 1;
            }
        }
        assert!(n > 0, "target {name} has no seeds in {}", dir.display());
        total += n;
    }
    eprintln!("replayed {total} seeds");
}

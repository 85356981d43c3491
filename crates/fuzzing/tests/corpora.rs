//! Replays every committed corpus file (`fuzz/corpus/<target>/*`) through its target, so that
//! `cargo test` covers the corpora and the fixed crashers without cargo-fuzz.

use std::path::Path;

#[test]
fn every_committed_corpus_file_replays_without_a_finding() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (name, target) in ivcrush_fuzzing::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} is empty", dir.display());
        for file in files {
            let data = std::fs::read(&file).expect("a corpus file");
            // The file names the input when the target panics.
            eprintln!("{}", file.display());
            target(&data);
        }
    }
}

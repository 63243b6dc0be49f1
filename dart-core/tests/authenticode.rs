//! Who signed a boot manager: PE files signed by `osslsigncode` with
//! certificates named like Microsoft's 2011 and 2023 CAs (made here by
//! openssl; no Microsoft file is used) are read back by dart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use dart_core::formats::authenticode::{signatures, SigningCa};
use proptest::prelude::*;

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA called `ca` and a "Microsoft Windows" certificate it issued;
/// returns (chain PEM, leaf key).
fn chain(dir: &Path, tag: &str, ca: &str) -> (PathBuf, PathBuf) {
    let p = |n: &str| dir.join(format!("{tag}-{n}"));
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .arg("-subj")
        .arg(format!("/O=Stand-in/CN={ca}"))
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    run(Command::new("openssl")
        .args(["req", "-newkey", "rsa:2048", "-nodes"])
        .arg("-subj")
        .arg("/O=Stand-in/CN=Microsoft Windows")
        .arg("-keyout")
        .arg(p("leaf.key"))
        .arg("-out")
        .arg(p("leaf.csr")));
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "30", "-set_serial", "7"])
        .arg("-in")
        .arg(p("leaf.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("leaf.pem")));
    let both = [
        std::fs::read(p("leaf.pem")).unwrap(),
        std::fs::read(p("ca.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(p("chain.pem"), both).unwrap();
    (p("chain.pem"), p("leaf.key"))
}

fn sign(input: &Path, output: &Path, chain: &(PathBuf, PathBuf), nest: bool) {
    let mut cmd = Command::new("osslsigncode");
    cmd.arg("sign");
    if nest {
        cmd.arg("-nest");
    }
    run(cmd
        .arg("-certs")
        .arg(&chain.0)
        .arg("-key")
        .arg(&chain.1)
        .arg("-h")
        .arg("sha256")
        .arg("-in")
        .arg(input)
        .arg("-out")
        .arg(output));
}

fn loader(dir: &Path) -> PathBuf {
    let efi = dir.join("loader.efi");
    assert!(
        dart_testkit::fixture::build_grub_loader(&efi).unwrap(),
        "grub-mkstandalone is required"
    );
    efi
}

#[test]
fn the_signing_ca_of_a_boot_manager_is_read_from_its_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let efi = loader(dir.path());
    assert_eq!(signatures(&std::fs::read(&efi).unwrap()).unwrap(), vec![]);
    let old = chain(dir.path(), "old", "Microsoft Windows Production PCA 2011");
    let new = chain(dir.path(), "new", "Windows UEFI CA 2023");
    let signed = dir.path().join("signed.efi");
    sign(&efi, &signed, &old, false);
    let sigs = signatures(&std::fs::read(&signed).unwrap()).unwrap();
    assert_eq!(sigs.len(), 1, "{sigs:?}");
    assert_eq!(sigs[0].ca, Some(SigningCa::Pca2011));
    assert_eq!(sigs[0].subject.as_deref(), Some("Microsoft Windows"));
    assert!(!sigs[0].nested);
    // Dual signing as signtool does it: the 2023 signature nested inside.
    let dual = dir.path().join("dual.efi");
    sign(&signed, &dual, &new, true);
    let sigs = signatures(&std::fs::read(&dual).unwrap()).unwrap();
    let cas: Vec<_> = sigs.iter().map(|s| (s.ca.clone(), s.nested)).collect();
    assert_eq!(
        cas,
        vec![
            (Some(SigningCa::Pca2011), false),
            (Some(SigningCa::Uefi2023), true)
        ]
    );
    let only_new = dir.path().join("new.efi");
    sign(&efi, &only_new, &new, false);
    assert_eq!(
        signatures(&std::fs::read(&only_new).unwrap()).unwrap()[0].ca,
        Some(SigningCa::Uefi2023)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn damaged_signatures_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        static SIGNED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let bytes = SIGNED.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let efi = loader(dir.path());
            let c = chain(dir.path(), "p", "Windows UEFI CA 2023");
            let out = dir.path().join("s.efi");
            sign(&efi, &out, &c, false);
            std::fs::read(out).unwrap()
        });
        let mut b = bytes.clone();
        // Damage the signature area (the end of the file) mostly.
        let tail = b.len() - 4096;
        for (i, v) in flips {
            let at = tail + i.index(4096);
            b[at] = v;
        }
        let _ = signatures(&b);
        let _ = signatures(&b[..cut.index(b.len())]);
    }
}

//! Boot menus generated per client (issue 18): how long a store takes to
//! generate, and what serving it from the cache costs against serving the
//! same bytes as a file.
//!
//! Workload: a server root with 10 staged images (each with a WIM,
//! `boot.sdi` and the stores WinPE media carry); a client that may boot
//! all of them.
//!
//! - **Generation** (what a cache miss costs): `menu::preview` (catalog
//!   read, template read, 10 entries cloned, store written), and the store
//!   build alone (template in memory); peer: reading the staged static
//!   store (`std::fs::read`), what a server without menus does per request.
//! - **Serving** (what a cache hit costs): TFTP downloads by a lock-step
//!   client (blksize 1468) of the generated store (cached after the first)
//!   and of a static file with the same bytes in the same root, from the
//!   same dart server; interleaved rounds, medians.
//!
//! Acceptance: generation under 1 ms; a cache hit within a few percent of
//! a static file.
//!
//! `cargo bench -p dart-benches --bench net_menu`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use dart_benches::{median, peak_rss_kib, tftp_fetch};
use dart_core::deploy::stage::{stage, StageOptions};
use dart_core::formats::bcd::Store;
use dart_core::model::arch::Architecture;
use dart_core::model::media::{Firmware, MediaSet};
use dart_core::net::menu::{self, MenuFirmware, MenuSpec, RamdiskTftp};
use dart_core::net::policy::{AccessPolicy, Client};
use dart_core::net::tftp::TftpConfig;
use dart_core::net::{BootServer, BootServerConfig, Catalog};
use dart_core::progress::Control;

const IMAGES: usize = 10;
const N: u32 = 500;
const ROUNDS: usize = 5;
const FETCHES: usize = 200;

fn media(dir: &Path, fill: u8) -> MediaSet {
    let store = |f| dart_testkit::fixture::media_store(f).unwrap();
    let files: [(&str, Vec<u8>); 6] = [
        ("efi/boot/bootx64.efi", vec![fill; 700]),
        ("boot/pxeboot.n12", vec![fill; 600]),
        ("sources/boot.wim", vec![fill; 1000]),
        ("boot/boot.sdi", vec![fill; 300]),
        ("boot/bcd", store(Firmware::Bios)),
        ("efi/microsoft/boot/bcd", store(Firmware::Uefi)),
    ];
    for (path, bytes) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    MediaSet::open(dir).unwrap()
}

/// One timed operation.
type Op<'a> = Box<dyn FnMut() + 'a>;

fn per_op(f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..N {
        f();
    }
    start.elapsed().as_secs_f64() / f64::from(N)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for i in 0..IMAGES {
        let name = format!("image-{i:02}");
        let m = media(&dir.path().join(&name), b'a' + i as u8);
        stage(
            &m,
            &root,
            &StageOptions::recovery(&name),
            &Control::default(),
        )
        .unwrap();
    }
    let policy = AccessPolicy::default();
    let client = Client::default();
    let firmware = MenuFirmware::Uefi(Architecture::X64);
    let (spec, store) = menu::preview(&root, &policy, &client, firmware, 1468).unwrap();
    let bytes = store.unwrap().to_bytes();
    assert_eq!(spec.items.len(), IMAGES);
    let static_store = root.join("images/image-00/1/efi/microsoft/boot/bcd");
    let copy = root.join("images/image-00/1/menu-copy.bcd");
    std::fs::write(&copy, &bytes).unwrap();

    // Generation.
    let catalog = Catalog::load(&root).unwrap();
    let decision = policy.decide(&client);
    let tftp = RamdiskTftp {
        block_size: 1468,
        window_size: 16,
        variable_window: true,
    };
    let template = std::fs::read(&static_store).unwrap();
    let (mut full, mut build, mut read) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let mut runs: Vec<(&str, Op)> = vec![
            (
                "full",
                Box::new(|| {
                    let (_, s) = menu::preview(&root, &policy, &client, firmware, 1468).unwrap();
                    std::hint::black_box(s.unwrap().to_bytes());
                }),
            ),
            (
                "build",
                Box::new(|| {
                    let spec =
                        MenuSpec::for_client(&catalog, &decision, firmware, &policy.menu, tftp);
                    let t = Store::parse(&template, "t".as_ref()).unwrap();
                    std::hint::black_box(spec.build_store(Some(t)).unwrap().to_bytes());
                }),
            ),
            (
                "read",
                Box::new(|| {
                    std::hint::black_box(std::fs::read(&static_store).unwrap());
                }),
            ),
        ];
        if round % 2 == 1 {
            runs.reverse();
        }
        for (name, f) in &mut runs {
            let t = per_op(f.as_mut());
            match *name {
                "full" => full.push(t),
                "build" => build.push(t),
                _ => read.push(t),
            }
        }
    }
    let (full, build, read) = (median(full), median(build), median(read));
    println!(
        "workload: {IMAGES} staged images, a client allowed all; store {} bytes; {N} operations per timing, {ROUNDS} interleaved rounds, medians",
        bytes.len()
    );
    println!(
        "generation (catalog + template read + {IMAGES} entries + write): {:.1} µs/op | build alone (template in memory): {:.1} µs/op | static store read (fs::read): {:.1} µs/op | ratio {:.1}x (target: generation < 1 ms)",
        full * 1e6,
        build * 1e6,
        read * 1e6,
        full / read
    );

    // Serving: cached generated store vs the same bytes as a file.
    let server = BootServer::start(
        BootServerConfig {
            root: root.clone(),
            policy,
            tftp: TftpConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                default_timeout: Duration::from_millis(500),
                ..TftpConfig::default()
            },
            proxy_dhcp: None,
            http: None,
            boot_url: None,
        },
        None,
    )
    .unwrap();
    let addr = server.tftp_addr().unwrap();
    let menu_name = "dart/menu/x64-uefi.bcd";
    let file_name = "images/image-00/1/menu-copy.bcd";
    // The first fetch generates the store; both are checked byte for byte.
    tftp_fetch(addr, menu_name, None, Some(&bytes));
    tftp_fetch(addr, file_name, None, Some(&bytes));
    let (mut cached, mut file) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let one = |name: &str| {
            let start = Instant::now();
            for _ in 0..FETCHES {
                tftp_fetch(addr, name, None, None);
            }
            start.elapsed().as_secs_f64() / FETCHES as f64
        };
        if round % 2 == 0 {
            cached.push(one(menu_name));
            file.push(one(file_name));
        } else {
            file.push(one(file_name));
            cached.push(one(menu_name));
        }
    }
    let (cached, file) = (median(cached), median(file));
    println!(
        "TFTP download (lock-step, blksize 1468, {} blocks): cached generated store {:.1} µs | same bytes from a file {:.1} µs | ratio {:.3}x (cache hit near zero: ≈ 1x)",
        bytes.len().div_ceil(1468),
        cached * 1e6,
        file * 1e6,
        cached / file
    );
    println!(
        "peak RSS of the benchmark process: {:.1} MiB",
        peak_rss_kib() as f64 / 1024.0
    );
    server.stop();
}

//! Composing images from the synthetic fixture, checked with wimlib-imagex.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use dart_core::image::{build_image, build_variants, ImageRecipe, ImageVariant, RecoveryImage};
use dart_core::model::tools::{SupportLevels, Tools};
use dart_core::progress::Control;
use dart_core::{Error, ErrorKind};
use dart_testkit::fixture::{generate, FixtureOptions};

fn small() -> FixtureOptions {
    FixtureOptions {
        base_bytes: 1 << 20,
        payload_bytes: 16 << 10,
        grub: false,
        ..FixtureOptions::default()
    }
}

fn wimlib_imagex(args: &[&str]) -> String {
    let out = Command::new("wimlib-imagex")
        .args(args)
        .output()
        .expect("wimlib-imagex is installed (apt: wimtools)");
    assert!(
        out.status.success(),
        "wimlib-imagex {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn fixture_base_looks_like_winpe() {
    let dir = tempfile::tempdir().unwrap();
    let fx = generate(dir.path(), &small()).unwrap();
    let img = RecoveryImage::open(&fx.base_wim).unwrap();
    let info = img.info();
    assert_eq!(info.image_count, 2);
    assert_eq!(info.boot_index, Some(2));
    assert!(info.images.iter().all(|i| i.is_winpe));
    assert_eq!(
        info.images[1].architecture,
        Some(dart_core::model::arch::Architecture::X64)
    );
    let text = wimlib_imagex(&["info", fx.base_wim.to_str().unwrap()]);
    assert!(text.contains("WindowsPE"), "{text}");
}

#[test]
fn built_image_has_exactly_the_selected_tools() {
    let dir = tempfile::tempdir().unwrap();
    let fx = generate(dir.path(), &small()).unwrap();
    let mut recipe = ImageRecipe::new(&fx.base_wim, &fx.payloads);
    recipe.name = Some("DaRT Help Desk".into());
    recipe.description = Some("Tier 1 image".into());
    recipe.remote.port = Some(3388);
    recipe.drivers = Some(fx.drivers.clone());
    let out = dir.path().join("dart.wim");
    let tools = Tools::EXPLORER | Tools::LOCKSMITH | Tools::REMOTE_CONNECTION;
    let report = build_image(&recipe, &ImageVariant::new(tools, &out)).unwrap();
    assert_eq!(report.base_index, 2);
    assert_eq!(report.outputs[0].boot_index, 1);

    let info = wimlib_imagex(&["info", out.to_str().unwrap()]);
    assert!(info.contains("Boot Index:     1"), "{info}");
    assert!(info.contains("DaRT Help Desk"), "{info}");
    assert!(info.contains("Tier 1 image"), "{info}");

    let listing = wimlib_imagex(&["dir", out.to_str().unwrap(), "1", "--path=/DaRT/Tools"]);
    let mut dirs: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.strip_prefix("/DaRT/Tools/"))
        .filter(|l| !l.contains('/'))
        .collect();
    dirs.sort();
    assert_eq!(dirs, vec!["explorer", "locksmith", "remote-connection"]);
    for tool in ["explorer", "locksmith", "remote-connection"] {
        for f in files_in(&fx.payloads.join(tool)) {
            assert!(
                listing.contains(&format!("/DaRT/Tools/{tool}/{f}")),
                "{f} missing:\n{listing}"
            );
        }
    }
    let all = wimlib_imagex(&["dir", out.to_str().unwrap(), "1"]);
    assert!(all.contains("/DaRT/Drivers/netkvm/netkvm.inf"), "{all}");
    assert!(all.contains("/Windows/System32/winpeshl.ini"));

    let img = RecoveryImage::open(&out).unwrap();
    assert_eq!(img.info().images[0].dart_tools, Some(tools));
    assert!(img.info().images[0].is_winpe);
}

#[test]
fn three_levels_in_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let fx = generate(dir.path(), &small()).unwrap();
    let recipe = ImageRecipe::new(&fx.base_wim, &fx.payloads);
    let levels = SupportLevels::builtin();
    let variants: Vec<ImageVariant> = ["remote", "end-user", "full"]
        .iter()
        .map(|l| ImageVariant::new(levels.get(l).unwrap(), dir.path().join(format!("{l}.wim"))))
        .collect();
    let report = build_variants(&recipe, &variants, &Control::default()).unwrap();
    assert_eq!(report.outputs.len(), 3);
    for v in &variants {
        let listing =
            wimlib_imagex(&["dir", v.output.to_str().unwrap(), "1", "--path=/DaRT/Tools"]);
        let mut dirs: Vec<&str> = listing
            .lines()
            .filter_map(|l| l.strip_prefix("/DaRT/Tools/"))
            .filter(|l| !l.contains('/'))
            .collect();
        dirs.sort();
        let mut want = v.tools.names();
        want.sort();
        assert_eq!(dirs, want, "{}", v.output.display());
        let ini = Command::new("wimlib-imagex")
            .args([
                "extract",
                v.output.to_str().unwrap(),
                "1",
                "/DaRT/dart.ini",
                "--to-stdout",
            ])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&ini.stdout).contains(&format!("Tools={}", v.tools)));
        wimlib_imagex(&["verify", v.output.to_str().unwrap()]);
    }
    assert_eq!(
        files_in(dir.path())
            .iter()
            .filter(|f| f.contains("dart-partial"))
            .count(),
        0
    );
}

#[test]
fn deterministic_mode_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let fx = generate(dir.path(), &small()).unwrap();
    let mut recipe = ImageRecipe::new(&fx.base_wim, &fx.payloads);
    recipe.deterministic = Some(1_600_000_000);
    let a = dir.path().join("a.wim");
    let b = dir.path().join("b.wim");
    build_image(&recipe, &ImageVariant::new(Tools::all(), &a)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // Touch a payload: same bytes, new timestamps.
    let f = fx.payloads.join("explorer/README.txt");
    let body = std::fs::read(&f).unwrap();
    std::fs::write(&f, body).unwrap();
    build_image(&recipe, &ImageVariant::new(Tools::all(), &b)).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

fn assert_no_output(dir: &Path, out: &Path) {
    assert!(!out.exists(), "{} was left behind", out.display());
    let leftovers: Vec<String> = files_in(dir)
        .into_iter()
        .filter(|f| f.contains("dart-partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_inputs_are_named_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fx = generate(dir.path(), &small()).unwrap();
    let out = dir.path().join("out.wim");
    let build =
        |recipe: &ImageRecipe, tools: Tools| build_image(recipe, &ImageVariant::new(tools, &out));

    // Missing base.
    let missing = dir.path().join("nope.wim");
    let err = build(&ImageRecipe::new(&missing, &fx.payloads), Tools::EXPLORER).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("nope.wim"), "{err}");
    assert_no_output(dir.path(), &out);

    // Not a WIM.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, this is not a WIM file at all, it is text").unwrap();
    let err = build(&ImageRecipe::new(&text, &fx.payloads), Tools::EXPLORER).unwrap_err();
    assert!(matches!(err, Error::NotAWim { .. }), "{err}");
    assert!(err.to_string().contains("notes.txt"));
    assert_no_output(dir.path(), &out);

    // Truncated WIM.
    let truncated = dir.path().join("truncated.wim");
    let bytes = std::fs::read(&fx.base_wim).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = build(&ImageRecipe::new(&truncated, &fx.payloads), Tools::EXPLORER).unwrap_err();
    assert!(matches!(err, Error::CorruptWim { .. }), "{err}");
    assert!(err.to_string().contains("truncated.wim"));
    assert_no_output(dir.path(), &out);

    // Image index that does not exist.
    let mut r = ImageRecipe::new(&fx.base_wim, &fx.payloads);
    r.base_index = Some(7);
    let err = build(&r, Tools::EXPLORER).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NoSuchImage {
                index: 7,
                count: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_no_output(dir.path(), &out);

    // Payload directory missing a selected tool.
    std::fs::rename(
        fx.payloads.join("locksmith"),
        dir.path().join("locksmith-away"),
    )
    .unwrap();
    let err = build(
        &ImageRecipe::new(&fx.base_wim, &fx.payloads),
        Tools::EXPLORER | Tools::LOCKSMITH,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingToolPayload {
                expected: "locksmith",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("Locksmith"));
    assert_no_output(dir.path(), &out);

    // Unknown tool name.
    let err = "explorer,telnet".parse::<Tools>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tool);
    assert!(err.to_string().contains("telnet"));

    // Output that is an input.
    let err = build_image(
        &ImageRecipe::new(&fx.base_wim, &fx.payloads),
        &ImageVariant::new(Tools::EXPLORER, &fx.base_wim),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

#[test]
fn cancellation_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fx = generate(dir.path(), &small()).unwrap();
    let control = Control::default();
    control.cancel.cancel();
    let out = dir.path().join("c.wim");
    let err = build_variants(
        &ImageRecipe::new(&fx.base_wim, &fx.payloads),
        &[ImageVariant::new(Tools::all(), &out)],
        &control,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_no_output(dir.path(), &out);
}

#[test]
fn keep_other_images_sets_boot_index() {
    let dir = tempfile::tempdir().unwrap();
    let fx = generate(dir.path(), &small()).unwrap();
    let mut recipe = ImageRecipe::new(&fx.base_wim, &fx.payloads);
    recipe.keep_other_images = true;
    recipe.name = Some("DaRT10".into());
    let out = dir.path().join("two.wim");
    build_image(&recipe, &ImageVariant::new(Tools::EXPLORER, &out)).unwrap();
    let img = RecoveryImage::open(&out).unwrap();
    assert_eq!(img.info().image_count, 2);
    assert_eq!(img.info().boot_index, Some(2));
    assert_eq!(img.info().images[1].name.as_deref(), Some("DaRT10"));
    assert!(img
        .list_files(2)
        .unwrap()
        .iter()
        .any(|p| p == "/DaRT/Tools/explorer/"));
    assert!(!img
        .list_files(1)
        .unwrap()
        .iter()
        .any(|p| p.starts_with("/DaRT")));
}

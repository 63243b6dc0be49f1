//! libhivex as an independent reader of the hives dart writes.
//!
//! [`hivex_dump`] runs Debian's `python3-hivex` (importable only by the
//! system's `/usr/bin/python3`) over a hive file and returns every key
//! path and every value (path, name, type, bytes); [`dart_dump`] gives the
//! same from dart's own reader, so a test compares the two.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use dart_core::formats::regf::Hive;

/// Every key (by path, `\`-separated from the root, root = "") and every
/// value `(key path, value name, type, data)`, upper-cased paths so the
/// comparison ignores case as the registry does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HiveDump {
    /// Key paths.
    pub keys: BTreeSet<String>,
    /// Values.
    pub values: BTreeSet<(String, String, u32, Vec<u8>)>,
}

const SCRIPT: &str = r#"
import hivex, sys
h = hivex.Hivex(sys.argv[1])
def walk(n, path):
    print("K\t" + path)
    for v in h.node_values(n):
        t, data = h.value_value(v)
        print("V\t%s\t%s\t%d\t%s" % (path, h.value_key(v), t, data.hex()))
    for c in h.node_children(n):
        walk(c, (path + "\\" if path else "") + h.node_name(c))
walk(h.root(), "")
"#;

/// What libhivex reads from the hive file `path`; panics (failing the
/// test) when hivex refuses it.
pub fn hivex_dump(path: &Path) -> HiveDump {
    let out = Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT])
        .arg(path)
        .output()
        .expect("/usr/bin/python3 runs (scripts/setup installs python3-hivex)");
    assert!(
        out.status.success(),
        "python3-hivex refused {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut dump = HiveDump::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["K", path] => {
                dump.keys.insert(path.to_uppercase());
            }
            ["V", path, name, t, hex] => {
                let data = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect();
                dump.values.insert((
                    path.to_uppercase(),
                    name.to_string(),
                    t.parse().unwrap(),
                    data,
                ));
            }
            _ => panic!("unexpected hivex dump line {line:?}"),
        }
    }
    dump
}

/// The same as [`hivex_dump`] from dart's reader.
pub fn dart_dump(hive: &Hive) -> HiveDump {
    let mut dump = HiveDump::default();
    for k in hive.walk(Hive::ROOT) {
        let path = hive.path(k).to_uppercase();
        for v in &hive.key(k).values {
            dump.values
                .insert((path.clone(), v.name.clone(), v.kind.0, v.data.clone()));
        }
        dump.keys.insert(path);
    }
    dump
}

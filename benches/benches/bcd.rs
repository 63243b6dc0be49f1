//! BCD store read and write: a typical media store (`Store::new(Uefi)`
//! plus 3 WinPE entries) read (`Store::parse` + `Store::view`, the full
//! decode) and written (`Store::to_bytes`), each timed over many
//! operations, against libhivex in the same run: its C API (loaded with
//! dlopen, so the benchmark still builds without it) opening the same file
//! and reading every key name, value name and value, and writing it back
//! with `hivex_commit`; and python3-hivex doing the same walk in one
//! interpreter. Rounds are interleaved, order alternating, medians
//! reported. Peak RSS of each side is measured in a child process (python
//! reports its own).
//!
//! Acceptance: dart under 1 ms per read and per write.
//!
//! `cargo bench -p dart-benches --bench bcd` (needs libhivex0; the python
//! row needs python3-hivex, importable by `/usr/bin/python3`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::ffi::{c_char, c_int, c_void, CStr, CString, OsStr};
use std::hint::black_box;
use std::mem::transmute;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dart_benches::{bench_dir, child_peak_rss, median, peak_rss_kib};
use dart_core::formats::bcd::{Store, WinPeEntry};
use dart_core::model::media::Firmware;

/// Operations per timing.
const N: u32 = 2000;
const ROUNDS: usize = 5;
const PYTHON: &str = "/usr/bin/python3";

/// What `dart bcd new` + three `dart bcd add-winpe` make: the store a
/// three-image menu medium carries.
fn typical_store() -> Store {
    let mut store = Store::new(Firmware::Uefi).unwrap();
    for n in 1..=3 {
        store
            .add_winpe(
                &WinPeEntry::new(
                    &format!("DaRT level {n}"),
                    &format!(r"\sources\level{n}.wim"),
                ),
                false,
            )
            .unwrap();
    }
    store
}

/// Per-operation time of `n` runs of `op`.
fn per_op(n: u32, mut op: impl FnMut()) -> Duration {
    let s = Instant::now();
    for _ in 0..n {
        op();
    }
    s.elapsed() / n
}

/// Read from bytes in memory: parse the hive, decode every object.
fn dart_read(bytes: &[u8]) -> Duration {
    per_op(N, || {
        let store = Store::parse(black_box(bytes), "BCD".as_ref()).unwrap();
        black_box(store.view());
    })
}

/// Read from the file, as libhivex does: open, parse, decode every object.
fn dart_read_file(path: &Path) -> Duration {
    per_op(N, || {
        let store = Store::open(black_box(path)).unwrap();
        black_box(store.view());
    })
}

/// Write to bytes in memory.
fn dart_write(store: &Store) -> Duration {
    per_op(N, || {
        black_box(black_box(store).to_bytes());
    })
}

/// Write to a file, as `hivex_commit` does (no fsync on either side).
fn dart_write_file(store: &Store, out: &Path) -> Duration {
    per_op(N, || {
        std::fs::write(out, store.to_bytes()).unwrap();
    })
}

type HiveH = *mut c_void;
type NodeH = usize;
type ValueH = usize;

type OpenFn = unsafe extern "C" fn(*const c_char, c_int) -> HiveH;
type CloseFn = unsafe extern "C" fn(HiveH) -> c_int;
type RootFn = unsafe extern "C" fn(HiveH) -> NodeH;
type NodeNameFn = unsafe extern "C" fn(HiveH, NodeH) -> *mut c_char;
type NodeListFn = unsafe extern "C" fn(HiveH, NodeH) -> *mut usize;
type ValueKeyFn = unsafe extern "C" fn(HiveH, ValueH) -> *mut c_char;
type ValueValueFn = unsafe extern "C" fn(HiveH, ValueH, *mut c_int, *mut usize) -> *mut c_char;
type CommitFn = unsafe extern "C" fn(HiveH, *const c_char, c_int) -> c_int;

/// libhivex's C API, from `hivex.h` (1.3.x).
struct Hivex {
    open: OpenFn,
    close: CloseFn,
    root: RootFn,
    node_name: NodeNameFn,
    node_children: NodeListFn,
    node_values: NodeListFn,
    value_key: ValueKeyFn,
    value_value: ValueValueFn,
    commit: CommitFn,
}

/// `HIVEX_OPEN_WRITE` in `hivex.h`.
const HIVEX_OPEN_WRITE: c_int = 4;

impl Hivex {
    /// Loads `libhivex.so.0`, or says why it cannot.
    fn load() -> Result<Hivex, String> {
        // SAFETY: the name is a NUL-terminated literal; dlopen runs the
        // library's initialisers, which libhivex does not rely on for
        // anything but its own state.
        let lib = unsafe { libc::dlopen(c"libhivex.so.0".as_ptr(), libc::RTLD_NOW) };
        if lib.is_null() {
            return Err("libhivex.so.0 not found (apt-get install libhivex0)".into());
        }
        let sym = |name: &CStr| {
            // SAFETY: `lib` is a live handle from dlopen (never closed) and
            // `name` is NUL-terminated.
            let p = unsafe { libc::dlsym(lib, name.as_ptr()) };
            assert!(!p.is_null(), "libhivex has no {name:?}");
            p
        };
        // SAFETY: each symbol is the libhivex function of that name, whose
        // C prototype in hivex.h the field's type mirrors (hive_node_h and
        // hive_value_h are size_t, hive_type is an enum passed as int).
        unsafe {
            Ok(Hivex {
                open: transmute::<*mut c_void, OpenFn>(sym(c"hivex_open")),
                close: transmute::<*mut c_void, CloseFn>(sym(c"hivex_close")),
                root: transmute::<*mut c_void, RootFn>(sym(c"hivex_root")),
                node_name: transmute::<*mut c_void, NodeNameFn>(sym(c"hivex_node_name")),
                node_children: transmute::<*mut c_void, NodeListFn>(sym(c"hivex_node_children")),
                node_values: transmute::<*mut c_void, NodeListFn>(sym(c"hivex_node_values")),
                value_key: transmute::<*mut c_void, ValueKeyFn>(sym(c"hivex_value_key")),
                value_value: transmute::<*mut c_void, ValueValueFn>(sym(c"hivex_value_value")),
                commit: transmute::<*mut c_void, CommitFn>(sym(c"hivex_commit")),
            })
        }
    }

    fn open(&self, path: &CStr, flags: c_int) -> HiveH {
        // SAFETY: `path` is NUL-terminated; hivex_open returns NULL on error.
        let h = unsafe { (self.open)(path.as_ptr(), flags) };
        assert!(!h.is_null(), "libhivex cannot open {path:?}");
        h
    }

    fn close(&self, h: HiveH) {
        // SAFETY: `h` came from hivex_open and is closed once.
        unsafe { (self.close)(h) };
    }

    /// Reads every key name, value name and value under `node`; returns
    /// how many bytes of names and data it saw.
    fn walk(&self, h: HiveH, node: NodeH) -> usize {
        let mut seen = 0;
        // SAFETY: `h` is an open handle and `node` one of its nodes. Every
        // pointer libhivex returns is checked for NULL, read only within
        // what it returned (NUL-terminated strings, 0-terminated handle
        // arrays, `len` data bytes) and freed once with free(3), as
        // hivex.h says the caller must.
        unsafe {
            let name = (self.node_name)(h, node);
            assert!(!name.is_null());
            seen += CStr::from_ptr(name).to_bytes().len();
            libc::free(name.cast());
            let values = (self.node_values)(h, node);
            assert!(!values.is_null());
            let mut i = 0;
            while *values.add(i) != 0 {
                let v = *values.add(i);
                let key = (self.value_key)(h, v);
                assert!(!key.is_null());
                seen += CStr::from_ptr(key).to_bytes().len();
                libc::free(key.cast());
                let (mut t, mut len) = (0, 0usize);
                let data = (self.value_value)(h, v, &mut t, &mut len);
                assert!(!data.is_null());
                seen += black_box(std::slice::from_raw_parts(data.cast::<u8>(), len)).len();
                libc::free(data.cast());
                i += 1;
            }
            libc::free(values.cast());
            let children = (self.node_children)(h, node);
            assert!(!children.is_null());
            let mut i = 0;
            while *children.add(i) != 0 {
                seen += self.walk(h, *children.add(i));
                i += 1;
            }
            libc::free(children.cast());
        }
        seen
    }

    /// Open the file, read every key and value, close.
    fn read(&self, path: &CStr) -> Duration {
        per_op(N, || {
            let h = self.open(path, 0);
            // SAFETY: `h` is open.
            let root = unsafe { (self.root)(h) };
            black_box(self.walk(h, root));
            self.close(h);
        })
    }

    /// Write the hive opened once to `out`, as `hivex_commit` does.
    fn write(&self, path: &CStr, out: &CStr) -> Duration {
        let h = self.open(path, HIVEX_OPEN_WRITE);
        let t = per_op(N, || {
            // SAFETY: `h` is open for writing, `out` is NUL-terminated.
            let r = unsafe { (self.commit)(h, out.as_ptr(), 0) };
            assert_eq!(r, 0, "hivex_commit failed");
        });
        self.close(h);
        t
    }
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// python3-hivex: in one interpreter, `n` times open the file and read
/// every key name, value name and value; prints seconds per operation
/// and the interpreter's peak RSS in KiB.
const PY_WALK: &str = r#"
import hivex, resource, sys, time
path, n = sys.argv[1], int(sys.argv[2])
def walk(h, node):
    seen = len(h.node_name(node))
    for v in h.node_values(node):
        seen += len(h.value_key(v))
        seen += len(h.value_value(v)[1])
    for c in h.node_children(node):
        seen += walk(h, c)
    return seen
h = hivex.Hivex(path)
walk(h, h.root())
s = time.perf_counter()
for _ in range(n):
    h = hivex.Hivex(path)
    walk(h, h.root())
    del h
e = time.perf_counter()
print((e - s) / n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"#;

/// python3-hivex's per-operation time and peak RSS (KiB), or why it
/// cannot run.
fn python_read(path: &Path) -> Result<(Duration, u64), String> {
    let out = Command::new(PYTHON)
        .args(["-c", PY_WALK])
        .arg(path)
        .arg(N.to_string())
        .output()
        .map_err(|e| format!("{PYTHON}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3-hivex not usable (apt-get install python3-hivex): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut w = text.split_whitespace();
    let secs: f64 = w.next().unwrap().parse().unwrap();
    let rss = w.next().unwrap().parse().unwrap();
    Ok((Duration::from_secs_f64(secs), rss))
}

fn us(d: f64) -> String {
    format!("{:.1} µs", d * 1e6)
}

fn child(side: &str, path: &Path, out: &Path) {
    match side {
        "dart" => {
            let store = Store::open(path).unwrap();
            dart_read_file(path);
            dart_read(&std::fs::read(path).unwrap());
            dart_write(&store);
            dart_write_file(&store, out);
        }
        "hivex" => {
            let hivex = Hivex::load().unwrap();
            hivex.read(&cpath(path));
            hivex.write(&cpath(path), &cpath(out));
        }
        other => panic!("unknown side {other}"),
    }
    println!("{}", peak_rss_kib());
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if std::env::var_os("DART_BENCH_CHILD").is_some() {
        child(&a[1], Path::new(&a[2]), Path::new(&a[3]));
        return;
    }
    let dir = bench_dir();
    let path = dir.path().join("BCD");
    let ours_out = dir.path().join("BCD.dart-out");
    let peer_out = dir.path().join("BCD.hivex-out");
    let store = typical_store();
    let bytes = store.to_bytes();
    assert!(bytes.len() < 64 << 10, "the store is {} bytes", bytes.len());
    std::fs::write(&path, &bytes).unwrap();
    let objects = store.view().objects.len();
    let hivex = Hivex::load();

    println!(
        "workload: BCD store (Store::new(Uefi) + 3 WinPE entries, {objects} objects, {} bytes); \
         {N} operations per timing, {ROUNDS} interleaved rounds, order alternating, medians",
        bytes.len()
    );
    let (mut read, mut read_file, mut write, mut write_file) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut h_read, mut h_write, mut py_read) = (Vec::new(), Vec::new(), Vec::new());
    let mut py_rss = 0;
    let mut py_missing = None;
    for round in 0..ROUNDS {
        let mut peers = || {
            if let Ok(h) = &hivex {
                h_read.push(h.read(&cpath(&path)).as_secs_f64());
                h_write.push(h.write(&cpath(&path), &cpath(&peer_out)).as_secs_f64());
            }
            match python_read(&path) {
                Ok((t, rss)) => {
                    py_read.push(t.as_secs_f64());
                    py_rss = py_rss.max(rss);
                }
                Err(e) => py_missing = Some(e),
            }
        };
        if round % 2 == 1 {
            peers();
        }
        read.push(dart_read(&bytes).as_secs_f64());
        read_file.push(dart_read_file(&path).as_secs_f64());
        write.push(dart_write(&store).as_secs_f64());
        write_file.push(dart_write_file(&store, &ours_out).as_secs_f64());
        if round % 2 == 0 {
            peers();
        }
    }
    // What each side wrote reads back as the store read at the start.
    let read_back = Store::parse(&bytes, "BCD".as_ref()).unwrap().view();
    assert_eq!(Store::open(&ours_out).unwrap().view(), read_back);
    if hivex.is_ok() {
        assert_eq!(Store::open(&peer_out).unwrap().view(), read_back);
    }

    let (r, rf, w, wf) = (
        median(read),
        median(read_file),
        median(write),
        median(write_file),
    );
    println!(
        "read  (Store::parse + view, bytes in memory): dart {}/op (target < 1 ms)",
        us(r)
    );
    println!(
        "write (Store::to_bytes, into memory):         dart {}/op (target < 1 ms)",
        us(w)
    );
    match &hivex {
        Ok(_) => {
            let (hr, hw) = (median(h_read), median(h_write));
            println!(
                "read  from the file: dart Store::open + view {}/op | libhivex C hivex_open + walk every key and value + close {}/op | ratio {:.2}x",
                us(rf),
                us(hr),
                rf / hr
            );
            println!(
                "write to a file:     dart to_bytes + fs::write {}/op | libhivex hivex_commit {}/op | ratio {:.2}x",
                us(wf),
                us(hw),
                wf / hw
            );
        }
        Err(e) => println!("libhivex rows skipped: {e}"),
    }
    match py_missing {
        None => {
            let p = median(py_read);
            println!(
                "read  from the file: dart Store::open + view {}/op | python3-hivex open + walk {}/op | ratio {:.3}x",
                us(rf),
                us(p),
                rf / p
            );
        }
        Some(e) => println!("python3-hivex row skipped: {e}"),
    }
    let rss = |side: &str| {
        child_peak_rss(&[
            OsStr::new(side),
            path.as_os_str(),
            dir.path().join(format!("BCD.{side}-rss")).as_os_str(),
        ])
    };
    let rss_dart = rss("dart");
    let rss_hivex = hivex.as_ref().ok().map(|_| rss("hivex"));
    println!(
        "peak RSS (child doing one timing of each operation): dart {:.1} MiB | libhivex C {} | python3-hivex {}",
        rss_dart as f64 / 1024.0,
        rss_hivex.map_or("-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
        if py_rss > 0 {
            format!("{:.1} MiB", py_rss as f64 / 1024.0)
        } else {
            "-".into()
        }
    );
    assert!(r < 1e-3, "a read takes {}, not under 1 ms", us(r));
    assert!(w < 1e-3, "a write takes {}, not under 1 ms", us(w));
}

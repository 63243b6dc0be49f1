//! Block maps in bmaptool's XML format (version 2.0): which blocks of an
//! image hold data, with a SHA-256 per range, so that a writer copies only
//! those and a verifier checks them. Maps written here are accepted by
//! `bmaptool copy`, and maps written by `bmaptool create` are accepted here.
//!
//! ```
//! use dart_core::write::bmap::{Bmap, MappedRange};
//! let map = Bmap::new(3 * 4096 + 100, 4096, vec![MappedRange { first: 0, last: 1, sha256: None }]);
//! let xml = map.to_xml();
//! assert_eq!(Bmap::parse(&xml, "image.bmap".as_ref())?, map);
//! # Ok::<(), dart_core::Error>(())
//! ```

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The largest bmap file read (64 MiB of XML).
pub const MAX_BMAP_BYTES: usize = 64 << 20;

/// A run of mapped blocks, inclusive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MappedRange {
    /// First block.
    pub first: u64,
    /// Last block (inclusive).
    pub last: u64,
    /// SHA-256 of the range's bytes (hex), when the map carries one.
    pub sha256: Option<String>,
}

/// A block map.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bmap {
    /// Bytes of the image.
    pub image_size: u64,
    /// Bytes per block.
    pub block_size: u64,
    /// Mapped ranges, in order, not overlapping.
    pub ranges: Vec<MappedRange>,
}

impl Bmap {
    /// A map of `ranges` over an image of `image_size` bytes.
    pub fn new(image_size: u64, block_size: u64, ranges: Vec<MappedRange>) -> Bmap {
        Bmap {
            image_size,
            block_size,
            ranges,
        }
    }

    /// Blocks in the image.
    pub fn blocks(&self) -> u64 {
        self.image_size.div_ceil(self.block_size.max(1))
    }

    /// Mapped blocks.
    pub fn mapped_blocks(&self) -> u64 {
        self.ranges.iter().map(|r| r.last - r.first + 1).sum()
    }

    /// The mapped byte ranges `(offset, len)`, clipped to the image size.
    pub fn byte_ranges(&self) -> Vec<(u64, u64)> {
        self.ranges
            .iter()
            .map(|r| {
                let start = r.first * self.block_size;
                let end = ((r.last + 1) * self.block_size).min(self.image_size);
                (start, end.saturating_sub(start))
            })
            .filter(|r| r.1 > 0)
            .collect()
    }

    /// The map as bmaptool's XML, with the file checksum bmaptool checks.
    pub fn to_xml(&self) -> String {
        let with_sums = self.ranges.iter().all(|r| r.sha256.is_some());
        let xml = self.render(with_sums, &"0".repeat(64));
        if !with_sums {
            return xml;
        }
        let sum = hex(&Sha256::digest(xml.as_bytes()));
        self.render(true, &sum)
    }

    fn render(&self, with_sums: bool, file_sum: &str) -> String {
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\" ?>\n");
        x.push_str(
            "<!-- This file contains the block map for an image file, written by dart. -->\n",
        );
        x.push_str("<bmap version=\"2.0\">\n");
        let _ = writeln!(x, "    <ImageSize> {} </ImageSize>", self.image_size);
        let _ = writeln!(x, "    <BlockSize> {} </BlockSize>", self.block_size);
        let _ = writeln!(x, "    <BlocksCount> {} </BlocksCount>", self.blocks());
        let _ = writeln!(
            x,
            "    <MappedBlocksCount> {} </MappedBlocksCount>",
            self.mapped_blocks()
        );
        if with_sums {
            x.push_str("    <ChecksumType> sha256 </ChecksumType>\n");
            let _ = writeln!(x, "    <BmapFileChecksum> {file_sum} </BmapFileChecksum>");
        }
        x.push_str("    <BlockMap>\n");
        for r in &self.ranges {
            let span = if r.first == r.last {
                r.first.to_string()
            } else {
                format!("{}-{}", r.first, r.last)
            };
            match (&r.sha256, with_sums) {
                (Some(s), true) => {
                    let _ = writeln!(x, "        <Range chksum=\"{s}\"> {span} </Range>");
                }
                _ => {
                    let _ = writeln!(x, "        <Range> {span} </Range>");
                }
            }
        }
        x.push_str("    </BlockMap>\n");
        x.push_str("</bmap>\n");
        x
    }

    /// Parses bmaptool's XML (versions 1.x and 2.x); `name` is used in
    /// errors. Checks the file checksum when present, and that ranges are in
    /// order, inside the image and not overlapping.
    pub fn parse(xml: &str, name: &Path) -> Result<Bmap> {
        let bad = |detail: String| Error::BadBmap {
            path: name.to_path_buf(),
            detail,
        };
        if xml.len() > MAX_BMAP_BYTES {
            return Err(bad(format!(
                "it is {} bytes, more than the {MAX_BMAP_BYTES} a block map may have",
                xml.len()
            )));
        }
        let doc =
            roxmltree::Document::parse(xml).map_err(|e| bad(format!("it is not XML: {e}")))?;
        let root = doc.root_element();
        if root.tag_name().name() != "bmap" {
            return Err(bad(format!(
                "its root element is <{}>, not <bmap>",
                root.tag_name().name()
            )));
        }
        let version = root.attribute("version").unwrap_or("");
        let major = version.split('.').next().unwrap_or("");
        if !matches!(major, "1" | "2") {
            return Err(bad(format!("version {version:?} is not 1.x or 2.x")));
        }
        let child = |tag: &str| root.children().find(|n| n.has_tag_name(tag));
        let number = |tag: &str| -> Result<u64> {
            let text = child(tag)
                .and_then(|n| n.text())
                .ok_or_else(|| bad(format!("it has no <{tag}>")))?;
            text.trim()
                .parse::<u64>()
                .map_err(|_| bad(format!("<{tag}> holds {:?}, not a number", text.trim())))
        };
        let image_size = number("ImageSize")?;
        let block_size = number("BlockSize")?;
        if block_size == 0 || !block_size.is_power_of_two() || block_size > 1 << 24 {
            return Err(bad(format!(
                "block size {block_size} is not a power of two up to 16 MiB"
            )));
        }
        let blocks = image_size.div_ceil(block_size);
        let checksum_type = child("ChecksumType")
            .and_then(|n| n.text())
            .map(|t| t.trim().to_ascii_lowercase());
        let sha_field = match checksum_type.as_deref() {
            Some("sha256") => true,
            Some(other) if major == "2" => {
                return Err(bad(format!(
                    "checksum type {other:?} is not supported (dart reads sha256)"
                )))
            }
            _ => false,
        };
        if let Some(sum) = child("BmapFileChecksum").and_then(|n| n.text()) {
            let sum = sum.trim();
            if sha_field && sum.len() == 64 {
                let zeroed = xml.replacen(sum, &"0".repeat(64), 1);
                let actual = hex(&Sha256::digest(zeroed.as_bytes()));
                if !actual.eq_ignore_ascii_case(sum) {
                    return Err(bad(format!(
                        "its checksum is {sum} but its contents hash to {actual}: the file was changed or damaged"
                    )));
                }
            }
        }
        let map = child("BlockMap").ok_or_else(|| bad("it has no <BlockMap>".into()))?;
        let mut ranges: Vec<MappedRange> = Vec::new();
        for r in map.children().filter(|n| n.has_tag_name("Range")) {
            let text = r.text().unwrap_or("").trim();
            let (a, b) = text.split_once('-').unwrap_or((text, text));
            let parse = |s: &str| {
                s.trim()
                    .parse::<u64>()
                    .map_err(|_| bad(format!("range {text:?} is not FIRST-LAST block numbers")))
            };
            let (first, last) = (parse(a)?, parse(b)?);
            if first > last || last >= blocks {
                return Err(bad(format!(
                    "range {first}-{last} is reversed or past the image's {blocks} blocks"
                )));
            }
            if ranges.last().is_some_and(|p| p.last >= first) {
                return Err(bad(format!(
                    "range {first}-{last} overlaps or comes before the previous range"
                )));
            }
            let sha256 = if sha_field {
                let sum = r
                    .attribute("chksum")
                    .ok_or_else(|| bad(format!("range {text:?} has no chksum")))?;
                if sum.len() != 64 || !sum.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return Err(bad(format!(
                        "range {text:?} has a malformed chksum {sum:?}"
                    )));
                }
                Some(sum.to_ascii_lowercase())
            } else {
                None
            };
            ranges.push(MappedRange {
                first,
                last,
                sha256,
            });
        }
        Ok(Bmap {
            image_size,
            block_size,
            ranges,
        })
    }

    /// Reads and parses a bmap file.
    pub fn read(path: &Path) -> Result<Bmap> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        Bmap::parse(&text, path)
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Fuzzing entry point: any text as a bmap file; must not panic.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(map) = Bmap::parse(text, Path::new("fuzz.bmap")) {
            let _ = map.byte_ranges();
            let _ = Bmap::parse(&map.to_xml(), Path::new("again.bmap"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_checksum_is_checked() {
        let map = Bmap::new(
            10 * 4096,
            4096,
            vec![MappedRange {
                first: 2,
                last: 4,
                sha256: Some("ab".repeat(32)),
            }],
        );
        let xml = map.to_xml();
        assert_eq!(Bmap::parse(&xml, Path::new("m")).unwrap(), map);
        let tampered = xml.replace("2-4", "2-5");
        let err = Bmap::parse(&tampered, Path::new("m.bmap")).unwrap_err();
        assert!(
            err.to_string().contains("m.bmap") && err.to_string().contains("checksum"),
            "{err}"
        );
    }

    #[test]
    fn bad_maps_are_named() {
        for xml in [
            "<bmap version=\"2.0\"><ImageSize>10</ImageSize></bmap>",
            "<bmap version=\"3.0\"/>",
            "not xml",
            "<bmap version=\"1.4\"><ImageSize>8192</ImageSize><BlockSize>4096</BlockSize><BlockMap><Range>1-5</Range></BlockMap></bmap>",
            "<bmap version=\"1.4\"><ImageSize>8192</ImageSize><BlockSize>4096</BlockSize><BlockMap><Range>1</Range><Range>0</Range></BlockMap></bmap>",
        ] {
            let err = Bmap::parse(xml, Path::new("x.bmap")).unwrap_err();
            assert!(err.to_string().contains("x.bmap"), "{err}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(blocks in 1u64..10_000, cuts in proptest::collection::btree_set(0u64..10_000, 0..40), sums: bool) {
            let cuts: Vec<u64> = cuts.into_iter().filter(|c| *c < blocks).collect();
            let ranges: Vec<MappedRange> = cuts
                .chunks_exact(2)
                .map(|c| MappedRange { first: c[0], last: c[1], sha256: sums.then(|| "0f".repeat(32)) })
                .collect();
            let map = Bmap::new(blocks * 4096 - 7, 4096, ranges);
            prop_assert_eq!(Bmap::parse(&map.to_xml(), Path::new("p")).unwrap(), map);
        }

        #[test]
        fn junk_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            fuzz_one(&data);
        }
    }
}

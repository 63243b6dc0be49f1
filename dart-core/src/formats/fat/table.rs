//! The file allocation table held in memory: allocation, chains, and
//! writing changed sectors back to every FAT copy (first copy first).

use std::collections::BTreeSet;

use super::geometry::{Geometry, ENTRY_MASK, EOC};
use crate::disk::BlockDevice;
use crate::error::{Error, Result};

/// The first FAT of a volume, in memory.
#[derive(Debug, Clone)]
pub(crate) struct Fat {
    entries: Vec<u32>,
    /// FAT sectors (0-based within one copy) changed since the last write.
    dirty: BTreeSet<u32>,
    geo: Geometry,
}

impl Fat {
    /// Reads the first FAT copy.
    pub fn read(dev: &mut dyn BlockDevice, geo: &Geometry) -> Result<Fat> {
        let count = geo.clusters as usize + 2;
        let bytes = count * 4;
        let mut raw = vec![0u8; bytes.next_multiple_of(geo.bytes_per_sector as usize)];
        dev.read_at(geo.fat_offset(0), &mut raw)?;
        let entries = raw[..bytes]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Fat {
            entries,
            dirty: BTreeSet::new(),
            geo: *geo,
        })
    }

    /// The entry of cluster `c` (28 bits).
    pub fn get(&self, c: u32) -> u32 {
        self.entries.get(c as usize).map_or(EOC, |v| v & ENTRY_MASK)
    }

    /// Sets the entry of cluster `c`, keeping its 4 reserved high bits.
    pub fn set(&mut self, c: u32, value: u32) {
        if let Some(e) = self.entries.get_mut(c as usize) {
            *e = (*e & !ENTRY_MASK) | (value & ENTRY_MASK);
            self.dirty.insert(c * 4 / self.geo.bytes_per_sector);
        }
    }

    /// Free data clusters.
    pub fn free_count(&self) -> u32 {
        (2..self.geo.clusters + 2)
            .filter(|&c| self.get(c) == 0)
            .count() as u32
    }

    /// The first free cluster, as an FSInfo hint.
    pub fn first_free(&self) -> Option<u32> {
        (2..self.geo.clusters + 2).find(|&c| self.get(c) == 0)
    }

    /// The clusters of the chain starting at `start`; a [`Error::DiskLayout`]
    /// naming `disk` and `what` when the chain is broken or loops.
    pub fn chain(&self, start: u32, disk: &std::path::Path, what: &str) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        let mut c = start;
        loop {
            if !self.geo.is_cluster(c) || out.len() > self.geo.clusters as usize {
                return Err(Error::DiskLayout {
                    disk: disk.to_path_buf(),
                    detail: format!("the cluster chain of {what} is damaged (cluster {c}); run a file system check"),
                });
            }
            out.push(c);
            let next = self.get(c);
            if next >= 0x0FFF_FFF8 {
                return Ok(out);
            }
            c = next;
        }
    }

    /// Allocates `n` clusters as a chain ending in end-of-chain: one
    /// contiguous run if the volume has one (first fit), else the first
    /// free clusters. `None` when fewer than `n` are free.
    pub fn alloc(&mut self, n: u32) -> Option<Vec<u32>> {
        if n == 0 {
            return Some(Vec::new());
        }
        let end = self.geo.clusters + 2;
        let mut run_start = 2;
        let mut c = 2;
        let mut found = None;
        while c < end {
            if self.get(c) != 0 {
                run_start = c + 1;
            } else if c + 1 - run_start == n {
                found = Some(run_start);
                break;
            }
            c += 1;
        }
        let clusters: Vec<u32> = match found {
            Some(s) => (s..s + n).collect(),
            None => {
                let free: Vec<u32> = (2..end)
                    .filter(|&c| self.get(c) == 0)
                    .take(n as usize)
                    .collect();
                if free.len() < n as usize {
                    return None;
                }
                free
            }
        };
        self.link(&clusters);
        Some(clusters)
    }

    /// Marks `clusters` as one chain ending in end-of-chain.
    pub fn link(&mut self, clusters: &[u32]) {
        for w in clusters.windows(2) {
            self.set(w[0], w[1]);
        }
        if let Some(&last) = clusters.last() {
            self.set(last, EOC);
        }
    }

    /// Marks every cluster of `chain` free.
    pub fn free(&mut self, chain: &[u32]) {
        for &c in chain {
            self.set(c, 0);
        }
    }

    /// Writes every changed FAT sector to each FAT copy, the first copy
    /// first, merging neighbouring sectors into one write.
    pub fn write(&mut self, dev: &mut dyn BlockDevice) -> Result<u64> {
        let bps = self.geo.bytes_per_sector as usize;
        let per_sector = bps / 4;
        let sectors: Vec<u32> = std::mem::take(&mut self.dirty).into_iter().collect();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for s in sectors {
            match ranges.last_mut() {
                Some((_, end)) if *end == s => *end = s + 1,
                _ => ranges.push((s, s + 1)),
            }
        }
        let mut written = 0u64;
        for copy in 0..self.geo.fats {
            for &(start, end) in &ranges {
                let mut buf = vec![0u8; (end - start) as usize * bps];
                let base = start as usize * per_sector;
                for (i, chunk) in buf.chunks_exact_mut(4).enumerate() {
                    if let Some(v) = self.entries.get(base + i) {
                        chunk.copy_from_slice(&v.to_le_bytes());
                    } else {
                        // Past the last cluster: keep what the format wrote.
                        let off = self.geo.fat_offset(copy) + ((base + i) * 4) as u64;
                        dev.read_at(off, chunk)?;
                    }
                }
                dev.write_at(
                    self.geo.fat_offset(copy) + (start as usize * bps) as u64,
                    &buf,
                )?;
                written += buf.len() as u64;
            }
        }
        Ok(written)
    }

    /// The runs (byte offset, bytes) of a chain, merging adjacent clusters.
    pub fn runs(&self, chain: &[u32]) -> Vec<(u64, u64)> {
        let cs = u64::from(self.geo.cluster_size());
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for &c in chain {
            match runs.last_mut() {
                Some((s, n)) if *s + *n == c => *n += 1,
                _ => runs.push((c, 1)),
            }
        }
        runs.into_iter()
            .map(|(s, n)| (self.geo.cluster_offset(s), u64::from(n) * cs))
            .collect()
    }
}

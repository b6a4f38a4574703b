//! One pool of adversarial examples for one layer: at most `capacity` entries, each a perturbed
//! input or activation with its label, the model version (optimizer step) it was made from and its
//! distortion. Once full, every new example replaces a random entry: the paper's pool whose random
//! part is continuously replaced. Host memory; a draw copies only the sampled rows to the device.

use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    pub label: u8,
    /// The optimizer step of the snapshot the entry was made from.
    pub version: u64,
    pub distortion: f32,
    /// The training example (its index in the training set) the entry was made from.
    pub origin: u32,
}

/// A pool's figures at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolStats {
    pub layer: usize,
    pub fill: usize,
    pub capacity: usize,
    /// Mean of (step - version) over the entries.
    pub mean_age: f64,
    pub mean_distortion: f64,
    /// Entries written since the pool was made (new and replaced).
    pub written: u64,
}

pub struct Pool {
    pub layer: usize,
    pub width: usize,
    capacity: usize,
    rows: Vec<f32>,
    entries: Vec<Entry>,
    written: u64,
    rng: StdRng,
}

/// Rows drawn from a pool: `len * width` values, labels, versions, the training examples they were
/// made from and where they sit in the pool.
pub struct Draw {
    pub rows: Vec<f32>,
    pub labels: Vec<u8>,
    pub versions: Vec<u64>,
    pub origins: Vec<u32>,
    pub slots: Vec<usize>,
}

impl Pool {
    pub fn new(layer: usize, width: usize, capacity: usize, seed: u64) -> Pool {
        Pool {
            layer,
            width,
            capacity,
            rows: Vec::new(),
            entries: Vec::new(),
            written: 0,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Adds examples (`rows` holds `entries.len() * width` values); when full, each replaces a
    /// random entry.
    pub fn insert(&mut self, rows: &[f32], entries: &[Entry]) {
        assert_eq!(rows.len(), entries.len() * self.width, "rows and entries disagree");
        for (row, entry) in rows.chunks_exact(self.width).zip(entries) {
            if self.entries.len() < self.capacity {
                self.rows.extend_from_slice(row);
                self.entries.push(*entry);
            } else {
                let i = self.rng.random_range(0..self.capacity);
                self.rows[i * self.width..(i + 1) * self.width].copy_from_slice(row);
                self.entries[i] = *entry;
            }
            self.written += 1;
        }
    }

    /// Removes the entries made more than `max_staleness` steps before `step`; returns how many.
    pub fn drop_stale(&mut self, step: u64, max_staleness: u64) -> usize {
        let mut removed = 0;
        let mut i = 0;
        while i < self.entries.len() {
            if step.saturating_sub(self.entries[i].version) > max_staleness {
                let last = self.entries.len() - 1;
                self.entries.swap_remove(i);
                if i != last {
                    let (head, tail) = self.rows.split_at_mut(last * self.width);
                    head[i * self.width..(i + 1) * self.width].copy_from_slice(&tail[..self.width]);
                }
                self.rows.truncate(last * self.width);
                removed += 1;
            } else {
                i += 1;
            }
        }
        removed
    }

    /// The rows of up to `k` entries spread evenly over the pool, without touching its random
    /// state (a look that changes nothing about training).
    pub fn peek(&self, k: usize) -> Vec<&[f32]> {
        let (n, k) = (self.entries.len(), k.min(self.entries.len()));
        (0..k).map(|j| j * n / k).map(|i| &self.rows[i * self.width..(i + 1) * self.width]).collect()
    }

    /// Replaces the rows at `slots` (from a [`Draw`] since which nothing was inserted or dropped) by
    /// `rows`, remade at step `version` with these `distortions`; label and origin stay.
    pub fn renew(&mut self, slots: &[usize], rows: &[f32], distortions: &[f32], version: u64) {
        assert_eq!(rows.len(), slots.len() * self.width, "rows and slots disagree");
        for ((&i, row), &distortion) in slots.iter().zip(rows.chunks_exact(self.width)).zip(distortions) {
            self.rows[i * self.width..(i + 1) * self.width].copy_from_slice(row);
            self.entries[i] = Entry { version, distortion, ..self.entries[i] };
        }
    }

    /// Up to `k` distinct random entries.
    pub fn draw(&mut self, k: usize) -> Draw {
        let k = k.min(self.entries.len());
        let picked = sample(&mut self.rng, self.entries.len(), k);
        let mut rows = Vec::with_capacity(k * self.width);
        let mut labels = Vec::with_capacity(k);
        let mut versions = Vec::with_capacity(k);
        let mut origins = Vec::with_capacity(k);
        for i in picked.iter() {
            rows.extend_from_slice(&self.rows[i * self.width..(i + 1) * self.width]);
            labels.push(self.entries[i].label);
            versions.push(self.entries[i].version);
            origins.push(self.entries[i].origin);
        }
        Draw { rows, labels, versions, origins, slots: picked.into_vec() }
    }

    pub fn stats(&self, step: u64) -> PoolStats {
        let n = self.entries.len().max(1) as f64;
        PoolStats {
            layer: self.layer,
            fill: self.entries.len(),
            capacity: self.capacity,
            mean_age: self.entries.iter().map(|e| step.saturating_sub(e.version) as f64).sum::<f64>() / n,
            mean_distortion: self.entries.iter().map(|e| e.distortion as f64).sum::<f64>() / n,
            written: self.written,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(label: u8, version: u64) -> Entry {
        Entry { label, version, distortion: 0.1, origin: 100 + label as u32 }
    }

    #[test]
    fn never_exceeds_capacity_and_keeps_rows_with_their_labels() {
        let mut pool = Pool::new(0, 3, 5, 1);
        for v in 0..20u64 {
            let label = (v % 10) as u8;
            pool.insert(&[label as f32; 3], &[entry(label, v)]);
            assert!(pool.len() <= 5);
        }
        assert_eq!(pool.len(), 5);
        let d = pool.draw(5);
        for (row, label) in d.rows.chunks(3).zip(&d.labels) {
            assert!(row.iter().all(|&x| x == *label as f32), "row {row:?} label {label}");
        }
        assert_eq!(pool.stats(20).written, 20);
    }

    #[test]
    fn renewed_entries_keep_their_label_and_origin() {
        let mut pool = Pool::new(0, 2, 4, 3);
        for v in 0..4u64 {
            pool.insert(&[v as f32; 2], &[entry(v as u8, v)]);
        }
        let d = pool.draw(2);
        let renewed: Vec<f32> = d.labels.iter().flat_map(|&l| [10.0 + l as f32; 2]).collect();
        pool.renew(&d.slots, &renewed, &[0.5, 0.5], 9);
        let all = pool.draw(4);
        for (((row, label), version), origin) in
            all.rows.chunks(2).zip(&all.labels).zip(&all.versions).zip(&all.origins)
        {
            assert_eq!(*origin, 100 + *label as u32);
            if d.labels.contains(label) {
                assert_eq!((row[0], *version), (10.0 + *label as f32, 9));
            } else {
                assert_eq!((row[0], *version), (*label as f32, *label as u64));
            }
        }
        assert_eq!(pool.entries().iter().filter(|e| e.distortion == 0.5).count(), 2);
    }

    #[test]
    fn stale_entries_are_dropped_with_their_rows() {
        let mut pool = Pool::new(1, 2, 10, 2);
        for v in 0..10u64 {
            pool.insert(&[v as f32, v as f32], &[entry(v as u8, v)]);
        }
        assert_eq!(pool.drop_stale(12, 5), 7); // versions 0..=6 are older than 5 steps
        assert_eq!(pool.len(), 3);
        let d = pool.draw(10);
        assert_eq!(d.labels.len(), 3);
        for ((row, label), version) in d.rows.chunks(2).zip(&d.labels).zip(&d.versions) {
            assert_eq!(row[0], *label as f32);
            assert!(12 - version <= 5);
        }
    }
}

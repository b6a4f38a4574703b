//! Reports: PNG figures.

pub mod png;
